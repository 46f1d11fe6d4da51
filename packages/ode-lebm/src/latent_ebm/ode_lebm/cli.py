"""Command line: ``latent-ebm-ode-lebm fit|validate|test|predict --config tiny|demo|paper|<path>``.

The model is chosen in the config (``model.class_path``): ``latent_ebm.ode_lebm.ODELEBMModule``
(``prior: ebm``, or ``gaussian`` for the ablation) or ``latent_ebm.ode_lebm.LatentODEVAE``
(the amortised baseline); both read the same ``ODELEBMDataModule``.
"""

from __future__ import annotations

import lightning as L

from latent_ebm.core.cli import main as core_main
from latent_ebm.ode_lebm.data import ODELEBMDataModule

__all__ = ["main"]


def main(args: list[str] | None = None):
    """Entry point of ``latent-ebm-ode-lebm`` (and ``latent-ebm ode-lebm``)."""
    return core_main(L.LightningModule, ODELEBMDataModule, config_package="latent_ebm.ode_lebm.configs",
                     args=args, subclass_mode_model=True)


if __name__ == "__main__":
    main()
