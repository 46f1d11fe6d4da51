"""A training-order sampler that resumes exactly."""

from __future__ import annotations

import torch
from torch.utils.data import Sampler

__all__ = ["EpochShuffle"]


class EpochShuffle(Sampler[int]):
    """A permutation of ``range(n)`` drawn from (seed, epoch) alone.

    Lightning calls ``set_epoch`` at every epoch, so a run resumed at an epoch boundary sees the
    same order as an uninterrupted one (a plain ``shuffle=True`` loader draws from the global RNG).
    """

    def __init__(self, n: int, seed: int = 0) -> None:
        if n < 0:
            raise ValueError(f"n={n} is not allowed; it must be >= 0")
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=gen).tolist())
