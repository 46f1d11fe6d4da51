"""Helpers for the tests of the core and of every method package.

- :mod:`.linear_gaussian`: the linear-Gaussian latent model with its exact posterior, and small
  subclasses of each base LightningModule built on it (known answers to test against).
- :mod:`.contract`: exact-resume and DDP-equivalence checks and a pytest base class
  (``from latent_ebm.core.testing.contract import ModuleContract``; needs pytest).
"""

from .linear_gaussian import (
    GaussianCoop,
    LinearGaussian,
    LinearGaussianDualRate,
    LinearGaussianLEBM,
    fixed_eps_optimum,
    subspace_angles,
)

__all__ = [
    "GaussianCoop",
    "LinearGaussian",
    "LinearGaussianDualRate",
    "LinearGaussianLEBM",
    "fixed_eps_optimum",
    "subspace_angles",
]
