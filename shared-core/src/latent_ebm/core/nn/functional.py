"""Small tensor functions several methods share (written once here, imported everywhere)."""

from __future__ import annotations

from torch import Tensor

__all__ = ["batch_view", "gaussian_kl"]


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) summed over all but the batch dim: (B, ...) -> (B,).

    0.5 * sum(mu² + sigma² - 1 - log sigma²) (Kingma & Welling 2014, appendix B)."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=1)


def batch_view(v: Tensor, like: Tensor) -> Tensor:
    """Per-example values (B,) as (B, 1, ..., 1), broadcasting against ``like`` (B, ...), in its dtype."""
    return v.view(-1, *([1] * (like.dim() - 1))).to(like.dtype)
