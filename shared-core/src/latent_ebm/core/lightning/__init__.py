"""Base LightningModules for the suite's three learning patterns (see ``docs/core-api.md``).

- :class:`LatentEBMModule`: MCMC in the loop, LEBM's rule (Pang et al. 2020).
- :class:`DualRateModule`: per-example local VB fitted fast, global weights slowly (LTM, 2025).
- :class:`CooperativeModule`: EBM + initializer by MCMC teaching (CoopNets, Xie et al. 2018).

Each base owns the training step and calls a package's hooks; each takes its settings as groups
(:class:`OptimConfig`, :class:`FastLoop`, :class:`ChainConfig`, and the samplers'
``LangevinSchedule``). All keep a per-rank sampler generator restored exactly on resume, log
sampler diagnostics, and are correct under DDP (tested with 2 CPU processes on gloo).
"""

from ._base import Diagnostics, NoiseMode, SeededModule
from .config import ChainConfig, FastLoop, OptimConfig, as_config, config_dict
from .cooperative import CooperativeModule
from .dual_rate import DualRateModule, LocalPosterior
from .global_batch import accumulation_steps, apply_global_batch
from .latent_ebm import LatentEBMModule, escape_inference, is_energy_prior
from .optim import build_optimizer, decay_groups, warmup_cosine

__all__ = [
    "ChainConfig",
    "CooperativeModule",
    "Diagnostics",
    "DualRateModule",
    "FastLoop",
    "LatentEBMModule",
    "LocalPosterior",
    "NoiseMode",
    "OptimConfig",
    "SeededModule",
    "accumulation_steps",
    "apply_global_batch",
    "as_config",
    "build_optimizer",
    "config_dict",
    "decay_groups",
    "escape_inference",
    "is_energy_prior",
    "warmup_cosine",
]
