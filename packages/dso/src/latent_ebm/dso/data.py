"""DSO's data: ZINC250k (or MOSES, or RDKit's offline NCI molecules) as SELFIES with RDKit
properties, exactly ``latent-ebm-lpt-mol``'s data module (the LPT is pretrained and fine-tuned
on it before the loop; its test split seeds round 0 of the first-party loop)."""
from __future__ import annotations

from latent_ebm.lpt_mol import LPTMolDataModule

__all__ = ["DSODataModule"]


class DSODataModule(LPTMolDataModule):
    """:class:`~latent_ebm.lpt_mol.LPTMolDataModule` under DSO's name (same arguments)."""
