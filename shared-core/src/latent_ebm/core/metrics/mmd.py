"""Maximum mean discrepancy with a Gaussian kernel (Gretton et al. 2012, eq. 3, unbiased U-statistic)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["gaussian_mmd"]


def gaussian_mmd(x: Tensor, y: Tensor, bandwidth: float | None = None) -> Tensor:
    """Unbiased MMD^2 between samples x (n, d) and y (m, d) under k(a, b) = exp(-|a-b|^2 / (2 h^2)).

    With ``bandwidth=None`` h is the median pairwise distance of the pooled samples.
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must be (n, d) and (m, d), got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError("x and y need at least two samples each for the unbiased estimate")
    if bandwidth is not None and not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    x, y = x.double(), y.double()
    pooled = torch.cat([x, y])
    d2 = torch.cdist(pooled, pooled).square()
    if bandwidth is None:
        bandwidth = float(d2[d2 > 0].median().sqrt()) if (d2 > 0).any() else 1.0
    k = torch.exp(-d2 / (2 * bandwidth**2))
    n, m = x.shape[0], y.shape[0]
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    term_x = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    term_y = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return term_x + term_y - 2 * kxy.mean()
