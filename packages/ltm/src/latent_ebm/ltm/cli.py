"""``latent-ebm-ltm fit|validate|test|predict --config tiny|demo|paper|ltm-s|ltm-m|ltm-l``.

The model is chosen in the config by ``class_path``: ``latent_ebm.ltm.LTMModule`` or the
same-size baseline ``latent_ebm.ltm.GPTModule`` (e.g. ``--model latent_ebm.ltm.GPTModule``).
"""

from __future__ import annotations

import lightning as L

from latent_ebm.core.cli import main as core_main

from .data import LTMDataModule

__all__ = ["main"]


def main(args: list[str] | None = None):
    """Run the LightningCLI; ``args`` as a list (tests) or None (console script)."""
    from . import model  # noqa: F401  (registers LTMModule / GPTModule as subclasses)

    return core_main(L.LightningModule, LTMDataModule, config_package="latent_ebm.ltm.configs", args=args,
                     subclass_mode_model=True)
