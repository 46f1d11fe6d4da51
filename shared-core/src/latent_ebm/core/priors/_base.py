"""What every prior shares: its latent shape, the base N(0, sigma² I), input checks, device."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from latent_ebm.core.checks import as_shape, check_int, check_real

__all__ = ["LatentPrior"]


class LatentPrior(nn.Module):
    """Base of the priors: samples live in u-space (B, *shape); ``transform`` maps u to z.

    Subclasses define ``energy``; this class gives the Gaussian reference energy
    ||u||² / (2 sigma²), the input checks, and N(0, sigma² I) draws on the prior's device.
    """

    def __init__(self, shape: int | tuple[int, ...], sigma: float = 1.0) -> None:
        super().__init__()
        self.shape = as_shape(shape)
        check_real("sigma", sigma, low=0.0, low_open=True)
        self.sigma = float(sigma)
        # Follows .to(device/dtype) so that draws land where the prior lives.
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    @property
    def dim(self) -> int:
        """Number of coordinates of one sample."""
        return math.prod(self.shape)

    def check(self, u: object, name: str = "u") -> Tensor:
        if (
            not isinstance(u, Tensor)
            or not u.is_floating_point()
            or tuple(u.shape[1:]) != self.shape
            or u.dim() < 2
            or u.shape[0] < 1
        ):
            desc = f"shape {tuple(u.shape)}, dtype {u.dtype}" if isinstance(u, Tensor) else repr(u)
            raise ValueError(
                f"{name} ({desc}) is not allowed; it must be a floating tensor (B, {', '.join(map(str, self.shape))}) with B >= 1"
            )
        return u

    def gaussian_energy(self, u: Tensor) -> Tensor:
        """||u||² / (2 sigma²) per sample: (B, *shape) -> (B,)."""
        return u.flatten(1).square().sum(dim=1) / (2.0 * self.sigma**2)

    def normal(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws from N(0, sigma² I): (n, *shape)."""
        check_int("n", n, low=1)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(
                f"generator={generator!r} is not allowed; pass a torch.Generator or None"
            )
        a = self._anchor
        return self.sigma * torch.randn(
            n, *self.shape, generator=generator, device=a.device, dtype=a.dtype
        )

    def transform(self, u: Tensor) -> Tensor:
        """The latent z the generator reads: the identity here."""
        return self.check(u)

    def energy(self, u: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"shape={self.shape}, sigma={self.sigma}"
