"""``latent-ebm-cdrl fit --config tiny`` (shipped configs: tiny, tiny-drl, demo, drl-demo, paper, drl-paper)."""

from __future__ import annotations

from latent_ebm.core.cli import main as core_main

from .data import CDRLDataModule
from .model import CDRLModule

__all__ = ["main"]


def main(args: list[str] | None = None):
    """Entry point of ``latent-ebm-cdrl`` (and ``latent-ebm cdrl``); returns the CLI when ``args`` is given."""
    cli = core_main(CDRLModule, CDRLDataModule, config_package="latent_ebm.cdrl.configs", args=args)
    return cli if args is not None else None


if __name__ == "__main__":
    main()
