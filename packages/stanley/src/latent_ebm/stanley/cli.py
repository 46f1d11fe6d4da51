"""``latent-ebm-stanley fit|validate|test|predict --config tiny|<path>``."""

from __future__ import annotations

from latent_ebm.core.cli import main as core_main

from .data import StanleyDataModule
from .model import StanleyModule

__all__ = ["main"]


def main(args: list[str] | None = None):
    """Entry point of ``latent-ebm-stanley`` (and ``latent-ebm stanley``); returns the CLI when
    ``args`` is given (tests)."""
    return core_main(StanleyModule, StanleyDataModule, config_package="latent_ebm.stanley.configs", args=args)


if __name__ == "__main__":
    main()
