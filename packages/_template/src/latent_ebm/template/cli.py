"""``latent-ebm-template fit|validate|test|predict --config tiny|<path>``."""

from __future__ import annotations

from latent_ebm.core.cli import main as core_main

from .data import TemplateDataModule
from .model import TemplateModule

__all__ = ["main"]


def main(args: list[str] | None = None):
    """Entry point of ``latent-ebm-template`` (and ``latent-ebm template``); returns the CLI when
    ``args`` is given (tests)."""
    return core_main(TemplateModule, TemplateDataModule, config_package="latent_ebm.template.configs", args=args)


if __name__ == "__main__":
    main()
