"""CDRL: Learning Energy-Based Models by Cooperative Diffusion Recovery Likelihood
(Zhu, Xie, Wu, Gao, ICLR 2024), with the DRL baseline (Gao et al., ICLR 2021).

``CDRL`` is the LightningModule (``use_initializer=False`` gives DRL), ``CDRLData`` the
DataModule, ``NoiseSchedule`` the logSNR schedule and its per-level coefficients.
"""

from .data import CDRLData, ToyDensity
from .model import CDRL
from .schedule import NoiseSchedule

__all__ = ["CDRL", "CDRLData", "NoiseSchedule", "ToyDensity"]
