"""What every prior shares: its latent shape, the base N(0, sigma² I), input checks, device."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["LatentPrior", "as_shape"]


def as_shape(shape: object) -> tuple[int, ...]:
    """An int or a tuple of ints >= 1 -> tuple; otherwise ``ValueError``."""
    dims = (shape,) if isinstance(shape, int) and not isinstance(shape, bool) else shape
    if (
        not isinstance(dims, tuple | list)
        or not dims
        or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dims)
    ):
        raise ValueError(
            f"shape={shape!r} is not allowed; it must be an int >= 1 or a non-empty tuple of them"
        )
    return tuple(dims)


class LatentPrior(nn.Module):
    """Base of the priors: samples live in u-space (B, *shape); ``transform`` maps u to z.

    Subclasses define ``energy``; this class gives the Gaussian reference energy
    ||u||² / (2 sigma²), the input checks, and N(0, sigma² I) draws on the prior's device.
    """

    def __init__(self, shape: int | tuple[int, ...], sigma: float = 1.0) -> None:
        super().__init__()
        self.shape = as_shape(shape)
        if (
            isinstance(sigma, bool)
            or not isinstance(sigma, int | float)
            or not (math.isfinite(sigma) and sigma > 0)
        ):
            raise ValueError(f"sigma={sigma!r} is not allowed; it must be a finite number > 0")
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
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n={n!r} is not allowed; it must be an int >= 1")
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
