"""``latent-ebm-lpt-rl fit|validate|test|predict --config tiny|<path>``."""

from __future__ import annotations

from latent_ebm.core.cli import main as core_main

from .data import LPTRLDataModule
from .model import LPTRLModule

__all__ = ["main"]


def main(args: list[str] | None = None):
    """Entry point of ``latent-ebm-lpt-rl`` (and ``latent-ebm lpt-rl``); returns the CLI when
    ``args`` is given (tests)."""
    return core_main(LPTRLModule, LPTRLDataModule, config_package="latent_ebm.lpt_rl.configs", args=args)


if __name__ == "__main__":
    main()
