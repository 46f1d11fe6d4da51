"""The networks of LPT that the core does not provide: the property regressors p_gamma(y | z).

The prior U_alpha (core ``UNetPrior``) and the generator p_beta(x | z) (core
``LatentConditionedDecoder``) come from the core; see ``model.py`` for how they are wired.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["PropertyMLP"]


class PropertyMLP(nn.Module):
    """The mean of p_gamma(y | z): one MLP per property on flattened z, d_z -> 100 -> 100 -> 1
    with SiLU and dropout (the LPT code's regressor, "a 3-layer MLP"); its Gaussian likelihood
    is ``LPTMolModule.property_energy``. ``bounded[i]``: head i ends in a sigmoid (the LPT code's
    heads for QED and SA, whose targets lie in [0, 1])."""

    def __init__(self, d_z: int, n_props: int, hidden: Sequence[int] = (100, 100), dropout: float = 0.3,
                 bounded: Sequence[bool] | None = None) -> None:
        super().__init__()
        self.bounded = list(bounded) if bounded is not None else [False] * n_props

        def mlp() -> nn.Sequential:
            layers, d = [], d_z
            for h in hidden:
                layers += [nn.Linear(d, h), nn.SiLU(), nn.Dropout(dropout)]
                d = h
            return nn.Sequential(*layers, nn.Linear(d, 1))

        self.heads = nn.ModuleList(mlp() for _ in range(n_props))

    def forward(self, z: Tensor) -> Tensor:
        """(B, N, d) -> predictions (B, P)."""
        flat = z.flatten(1)
        return torch.cat([torch.sigmoid(h(flat)) if b else h(flat) for h, b in zip(self.heads, self.bounded)], dim=1)
