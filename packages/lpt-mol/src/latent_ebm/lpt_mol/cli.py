"""``latent-ebm-lpt-mol fit --config tiny``."""
from __future__ import annotations

from latent_ebm.core.cli import main as core_main

from .data import LPTMolDataModule
from .model import LPTMolModule


def main(args=None, **kwargs):
    return core_main(LPTMolModule, LPTMolDataModule, config_package="latent_ebm.lpt_mol.configs", args=args,
                     **kwargs)


if __name__ == "__main__":
    main()
