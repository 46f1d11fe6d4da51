"""Persistent posterior chains keyed by example index (warm starts for posterior Langevin).

Unlike :class:`latent_ebm.core.samplers.PersistentChains` (a replay buffer sampled at random),
chain i belongs to training example i. The store is a plain tensor pair, not a registered buffer,
so DDP does not broadcast it every step; it is saved through the module's checkpoint hooks.
Under DDP every rank writes the revised chains of *all* ranks (one all_gather of (idx, u) per
step), so the replicas agree and rank 0's checkpoint holds every chain.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from latent_ebm.core.checks import check_int

__all__ = ["ExampleChains"]

Gather = Callable[[Tensor], Tensor]


class ExampleChains:
    """``n`` chains of shape ``shape``: ``chains`` (n, *shape) and ``seen`` (n,) bool."""

    def __init__(self, n: int, shape: tuple[int, ...]) -> None:
        check_int("n_examples", n, low=1)
        self.n, self.shape = n, tuple(shape)
        self.chains = torch.zeros(n, *self.shape)
        self.seen = torch.zeros(n, dtype=torch.bool)

    def _to(self, like: Tensor) -> None:
        if self.chains.device != like.device or self.chains.dtype != like.dtype:
            self.chains = self.chains.to(like)
            self.seen = self.seen.to(like.device)

    def _check_idx(self, idx: Tensor) -> None:
        if not isinstance(idx, Tensor) or idx.dim() != 1 or idx.is_floating_point():
            raise ValueError(f"idx={idx!r} is not allowed; it must be a 1-d integer tensor of example indices")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.n):
            raise ValueError(
                f"example index {int(idx.max())} is out of range; n_examples={self.n} "
                "(set n_examples to the training set size)"
            )

    def starts(self, idx: Tensor, fresh: Tensor) -> Tensor:
        """(B, *shape): the stored chain where example idx[i] was seen before, else fresh[i]."""
        self._check_idx(idx)
        self._to(fresh)
        idx = idx.to(fresh.device)
        seen = self.seen[idx].view(-1, *([1] * len(self.shape)))
        return torch.where(seen, self.chains[idx], fresh)

    @torch.no_grad()
    def update(self, idx: Tensor, u: Tensor, gather: Gather | None = None) -> None:
        """Store u (B, *shape) at idx. ``gather`` (e.g. ``LightningModule.all_gather`` under DDP)
        returns (world, B, ...) so that every rank stores every rank's chains."""
        self._check_idx(idx)
        self._to(u)
        idx, u = idx.to(u.device), u.detach()
        if gather is not None:
            idx, u = gather(idx).reshape(-1), gather(u).reshape(-1, *self.shape)
        self.chains[idx] = u.to(self.chains)
        self.seen[idx] = True

    def state(self) -> dict[str, Tensor]:
        return {"chains": self.chains.cpu().clone(), "seen": self.seen.cpu().clone()}

    def load_state(self, state: dict[str, Tensor]) -> None:
        chains, seen = state["chains"], state["seen"]
        if tuple(chains.shape) != (self.n, *self.shape) or tuple(seen.shape) != (self.n,):
            raise ValueError(
                f"saved chains of shape {tuple(chains.shape)} do not fit n_examples={self.n}, "
                f"shape={self.shape}"
            )
        device = self.chains.device
        self.chains, self.seen = chains.to(device).clone(), seen.to(device).clone()
