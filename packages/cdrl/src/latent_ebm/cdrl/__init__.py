"""CDRL: Learning Energy-Based Models by Cooperative Diffusion Recovery Likelihood
(Zhu, Xie, Wu, Gao, ICLR 2024), with the DRL baseline (Gao et al., ICLR 2021).

``CDRLModule`` is the LightningModule (``use_initializer=False`` gives DRL), ``CDRLDataModule``
the DataModule (batches ``{"x", "y", "index"}``), ``NoiseSchedule`` the logSNR schedule and its
per-level coefficients.
"""

from .data import CDRLDataModule, ToyDensity
from .model import CDRLModule
from .schedule import NoiseSchedule

__all__ = ["CDRLDataModule", "CDRLModule", "NoiseSchedule", "ToyDensity"]
