"""LPT's prior: z = U_alpha(z0), z0 ~ N(0, I), U a 1-d UNet applied to each latent vector
(Kong, Huang, Xie, Wu, "Molecule Design by Latent Prompt Transformer", sec. 2; official code
``lpt.py``: ``unet_forward`` views z0 (B, n_latent, dim) as B * n_latent one-channel signals)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from latent_ebm.core.nn import UNet1d

from ._base import LatentPrior

__all__ = ["UNetPrior"]


class UNetPrior(LatentPrior):
    """u = z0 of shape (n_latent, dim), p(z0) = N(0, I); transform(z0) = U(z0) of the same shape.

    energy(z0) = ||z0||² / 2. The UNet is learned through the generator's likelihood of
    U(z0) only (LPT's MLE gradient); ``dim`` must be divisible by 2 ** (len(multipliers) - 1).
    """

    def __init__(
        self,
        n_latent: int,
        dim: int,
        base_width: int = 16,
        multipliers: Sequence[int] = (1, 2, 4, 8),
    ) -> None:
        super().__init__((n_latent, dim), sigma=1.0)
        self.unet = UNet1d(base_width, multipliers, channels=1)
        if dim % self.unet.factor:
            raise ValueError(
                f"dim={dim} is not allowed with multipliers={tuple(multipliers)}; it must be divisible by {self.unet.factor}"
            )
        self.n_latent, self.latent_dim = n_latent, dim

    def energy(self, u: Tensor) -> Tensor:
        return self.gaussian_energy(self.check(u))

    def log_prob(self, u: Tensor) -> Tensor:
        """log N(z0; 0, I) (the density of u, not of z = U(u))."""
        return -self.energy(u) - 0.5 * self.dim * math.log(2 * math.pi)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z0 draws (n, n_latent, dim); map them with :meth:`transform`."""
        return self.normal(n, generator)

    def transform(self, u: Tensor) -> Tensor:
        """z = U(z0): (B, n_latent, dim) -> (B, n_latent, dim), each latent vector on its own."""
        b = self.check(u).shape[0]
        z = self.unet(u.reshape(b * self.n_latent, 1, self.latent_dim))  # (B*n, 1, dim)
        return z.reshape(b, self.n_latent, self.latent_dim)
