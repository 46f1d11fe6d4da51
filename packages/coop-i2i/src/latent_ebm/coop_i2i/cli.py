"""``latent-ebm-coop-i2i fit|validate|test|predict --config tiny|<path>``."""

from __future__ import annotations

from latent_ebm.core.cli import main as core_main

from .data import CoopI2IDataModule
from .model import CoopI2IModule

__all__ = ["main"]


def main(args: list[str] | None = None):
    """Entry point of ``latent-ebm-coop-i2i`` (and ``latent-ebm coop-i2i``); returns the CLI when
    ``args`` is given (tests)."""
    return core_main(CoopI2IModule, CoopI2IDataModule, config_package="latent_ebm.coop_i2i.configs", args=args)


if __name__ == "__main__":
    main()
