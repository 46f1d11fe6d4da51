"""``latent-ebm-lpt-mol fit --config tiny``."""
from __future__ import annotations

from latent_ebm.core.cli import main as core_main

from .data import MolDataModule
from .model import LPTMol


def main(args=None, **kwargs):
    return core_main(LPTMol, MolDataModule, config_package="latent_ebm.lpt_mol.configs", args=args, **kwargs)


if __name__ == "__main__":
    main()
