"""``latent-ebm-leo fit|validate|test|predict --config tiny|<path>``."""

from __future__ import annotations

from latent_ebm.core.cli import main as core_main

from .data import LEODataModule
from .model import LEOModule

__all__ = ["main"]


def main(args: list[str] | None = None):
    """Entry point of ``latent-ebm-leo`` (and ``latent-ebm leo``); returns the CLI when
    ``args`` is given (tests)."""
    return core_main(LEOModule, LEODataModule, config_package="latent_ebm.leo.configs", args=args)


if __name__ == "__main__":
    main()
