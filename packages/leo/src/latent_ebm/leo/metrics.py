"""Spread of a set of proposals (the expanded-exploration claim is about it)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["diversity"]


def diversity(x: Tensor, discrete: bool) -> float:
    """Mean pairwise distance among the rows of x: the Hamming distance as a fraction of the length
    (discrete designs) or the Euclidean distance (continuous designs); 0 for fewer than 2 rows."""
    n = x.shape[0]
    if n < 2:
        return 0.0
    if discrete:
        d = (x.unsqueeze(0) != x.unsqueeze(1)).float().mean(-1)
    else:
        d = torch.cdist(x.double(), x.double())
    return float(d.sum() / (n * (n - 1)))
