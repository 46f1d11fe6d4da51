"""Latent Plan Transformer (Kong et al., NeurIPS 2024; arXiv 2402.04647): planning as latent-space
inference. ``LPTRLModule`` (the model, on the core's ``LatentEBMModule``), ``LPTRLDataModule``
(offline trajectories), ``SequenceBCModule`` (the same-size baselines: behaviour cloning, Decision Transformer
with the final return or with step rewards)."""

from .baseline import SequenceBCModule
from .data import LPTRLDataModule
from .model import LPTRLModule

__all__ = ["LPTRLDataModule", "LPTRLModule", "SequenceBCModule"]
