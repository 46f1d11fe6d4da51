"""The isotropic Gaussian prior N(0, sigma² I)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._base import LatentPrior

__all__ = ["GaussianPrior"]


class GaussianPrior(LatentPrior):
    """p(u) = N(0, sigma² I) over u of shape ``shape``; z = u.

    energy(u) = ||u||² / (2 sigma²) (B,), log_prob(u) = -energy(u) - (D/2) log(2 pi sigma²).
    """

    def energy(self, u: Tensor) -> Tensor:
        return self.gaussian_energy(self.check(u))

    def log_prob(self, u: Tensor) -> Tensor:
        return -self.energy(u) - 0.5 * self.dim * math.log(2 * math.pi * self.sigma**2)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(n, *shape) exact draws."""
        return self.normal(n, generator)
