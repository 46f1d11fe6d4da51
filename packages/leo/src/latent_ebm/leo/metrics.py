"""Spread of a set of proposals (the expanded-exploration claim is about it)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["c2st", "diversity"]


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


def c2st(a: Tensor, b: Tensor, *, hidden: int = 64, steps: int = 300, seed: int = 0) -> float:
    """Classifier two-sample test: held-out accuracy of an MLP telling rows of a from rows of b
    (first half of each to train, second half to test); 0.5 when they are alike, 1.0 when apart."""
    from torch import nn

    n = min(len(a), len(b))
    if n < 4:
        raise ValueError(f"c2st needs >= 4 rows of each sample; got {len(a)} and {len(b)}")
    g = torch.Generator().manual_seed(seed)
    a, b = a[torch.randperm(len(a), generator=g)[:n]].float(), b[torch.randperm(len(b), generator=g)[:n]].float()
    h = n // 2
    x_tr, x_te = torch.cat([a[:h], b[:h]]), torch.cat([a[h:], b[h:]])
    y_tr = torch.cat([torch.ones(h), torch.zeros(h)])
    y_te = torch.cat([torch.ones(n - h), torch.zeros(n - h)])
    mean, std = x_tr.mean(0), x_tr.std(0).clamp_min(1e-6)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(a.shape[1], hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                        nn.Linear(hidden, 1))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    with torch.enable_grad():
        for _ in range(steps):
            loss = nn.functional.binary_cross_entropy_with_logits(net((x_tr - mean) / std).squeeze(-1), y_tr)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return float(((net((x_te - mean) / std).squeeze(-1) > 0).float() == y_te).float().mean())
