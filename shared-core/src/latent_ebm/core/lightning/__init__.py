"""Base LightningModules for the suite's three learning patterns (see ``docs/core-api.md``).

- :class:`LatentEBMModule`: MCMC in the loop, LEBM's rule (Pang et al. 2020).
- :class:`DualRateModule`: per-example local VB fitted fast, global weights slowly (LTM, 2025).
- :class:`CooperativeModule`: EBM + initializer by MCMC teaching (CoopNets, Xie et al. 2018).

All keep a per-rank sampler generator restored exactly on resume, log sampler diagnostics, and
are correct under DDP (tested with 2 CPU processes on gloo).
"""

from ._base import Diagnostics, SeededModule, check_positive
from .cooperative import CooperativeModule
from .dual_rate import DualRateModule, LocalPosterior
from .latent_ebm import LatentEBMModule

__all__ = [
    "CooperativeModule",
    "Diagnostics",
    "DualRateModule",
    "LatentEBMModule",
    "LocalPosterior",
    "SeededModule",
    "check_positive",
]
