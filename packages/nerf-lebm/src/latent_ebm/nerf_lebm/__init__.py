"""NeRF-LEBM (Zhu, Xie, Li, AISTATS 2023; arXiv 2304.07918): a generative radiance field with latent
energy-based priors on shape and appearance. ``NeRFLEBMModule`` (MLE with Langevin inference, on the
core's ``LatentEBMModule``), ``NeRFVAEModule`` (the variational alternative), ``NeRFLEBMDataModule``
(procedural multi-view objects offline, or the NeRF lego views)."""

from .data import NeRFLEBMDataModule
from .model import NeRFLEBMModule
from .vi import NeRFVAEModule

__all__ = ["NeRFLEBMDataModule", "NeRFLEBMModule", "NeRFVAEModule"]
