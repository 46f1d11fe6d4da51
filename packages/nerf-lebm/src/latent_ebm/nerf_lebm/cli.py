"""Command line: ``latent-ebm-nerf-lebm fit|validate|test|predict --config tiny|demo|paper|<path>``.

The model is chosen in the config (``model.class_path``): ``latent_ebm.nerf_lebm.NeRFLEBMModule``
(MLE with Langevin inference; ``prior: ebm``, or ``gaussian`` for the baseline) or
``latent_ebm.nerf_lebm.NeRFVAEModule`` (the variational alternative); both read ``NeRFLEBMDataModule``.
"""

from __future__ import annotations

import lightning as L

from latent_ebm.core.cli import main as core_main

from .data import NeRFLEBMDataModule

__all__ = ["main"]


def main(args: list[str] | None = None):
    """Entry point of ``latent-ebm-nerf-lebm`` (and ``latent-ebm nerf-lebm``); returns the CLI when
    ``args`` is given (tests)."""
    return core_main(L.LightningModule, NeRFLEBMDataModule, config_package="latent_ebm.nerf_lebm.configs",
                     args=args, subclass_mode_model=True)


if __name__ == "__main__":
    main()
