"""STANLEY (Karimi, Xie, Li, arXiv 2310.12667): anisotropic Langevin for training EBMs.
``StanleyModule`` (the short-run EBM on the core's ``CooperativeModule``, sampler ``stanley`` /
``ula`` / ``mala``), ``StanleyDataModule`` (2-d toys with exact densities, MNIST / Fashion-MNIST,
CIFAR-10), ``run_chains`` (the chains, diverged ones detected)."""

from .data import StanleyDataModule
from .model import StanleyModule
from .sampler import run_chains

__all__ = ["StanleyDataModule", "StanleyModule", "run_chains"]
