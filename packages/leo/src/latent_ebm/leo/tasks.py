"""Offline black-box optimisation tasks in Design-Bench's shape: a training set (x, y), an oracle,
the normalisation of scores and the protocol's percentiles.

A task is an :class:`OfflineTask`: ``x_train`` (N, L) int tokens in ``0..n_classes-1`` (discrete
designs) or (N, D) floats (continuous designs), ``y_train`` (N,), ``oracle(x) -> y`` on raw
designs, and ``y_min`` / ``y_max`` of the full (unobserved) data for Design-Bench's normalised
score (y - y_min) / (y_max - y_min). A user's own dataset plugs in by building one.

Built-in tasks (:func:`make_task`, names in :data:`TASKS`):
- ``tfbind8``: Design-Bench TFBind8 (SIX6_REF_R1), all 8-mers; training set = the rows with
  y <= the 50th percentile (Design-Bench's ``max_percentile=50``), oracle = the exact table.
- ``tfbind10``: Design-Bench TFBind10 (pho4) through the shared derived arrays: ``n_train`` rows
  drawn from the 100,000-row bottom-half pool, oracle = the exact 4^10 table.
- ``synthetic-seq``: a seeded additive + adjacent-pair score over 4^length sequences (length
  <= 10), offline and exact; training set = a bottom-half subsample (CI and demos).
- ``ackley``: negated Ackley on [-5, 5]^dim, optimum 0 at the origin; training set = the lower
  half of uniform draws, so the regret y_max - y is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from latent_ebm.core.checks import check_choice, check_int, check_real, not_allowed, require
from latent_ebm.core.data import get_file

__all__ = ["TASKS", "OfflineTask", "make_task", "normalised_score", "percentile_scores"]

TASKS = ("synthetic-seq", "tfbind8", "tfbind10", "ackley")


@dataclass
class OfflineTask:
    """One offline optimisation problem (Design-Bench's task interface, reduced).

    Attributes:
        name: task name.
        x_train: (N, L) int64 tokens (discrete) or (N, D) float32 (continuous) training designs.
        y_train: (N,) float32 training values (raw units, higher is better).
        oracle: raw designs (M, L) / (M, D) -> (M,) float values; use :meth:`score`, which checks.
        y_min, y_max: min and max of the full data, for the normalised score.
        n_classes: alphabet size of discrete designs; 0 for continuous designs.
        bounds: (low, high) of each coordinate of continuous designs (None for discrete).
    """

    name: str
    x_train: Tensor
    y_train: Tensor
    oracle: Callable[[Tensor], Tensor]
    y_min: float
    y_max: float
    n_classes: int = 0
    bounds: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        require("x_train", tuple(self.x_train.shape), self.x_train.dim() == 2 and len(self.x_train) > 0,
                "the task needs a non-empty (N, L) training set")
        require("y_train", tuple(self.y_train.shape), self.y_train.shape == (len(self.x_train),),
                f"it must have shape ({len(self.x_train)},)")
        require("y_train", "non-finite values", bool(torch.isfinite(self.y_train).all()), "values must be finite")
        require("y_max", self.y_max, self.y_max > self.y_min, f"it must be > y_min={self.y_min}")

    @property
    def discrete(self) -> bool:
        return self.n_classes > 0

    @property
    def design_dim(self) -> int:
        """L (sequence length) or D (coordinates)."""
        return int(self.x_train.shape[1])

    def check_designs(self, x: Tensor, name: str = "x") -> Tensor:
        """x as the oracle reads it, or a one-line ValueError naming the wrong length/alphabet."""
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != self.design_dim or len(x) == 0:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise not_allowed(f"{name}.shape", got, f"{self.name} designs are (M, {self.design_dim}) with M >= 1")
        if self.discrete:
            if x.is_floating_point() or x.dtype == torch.bool:
                raise not_allowed(f"{name}.dtype", x.dtype, "discrete designs are integer tokens")
            bad = (x < 0) | (x >= self.n_classes)
            if bad.any():
                raise not_allowed(f"{name}", int(x[bad][0]), f"tokens must lie in 0..{self.n_classes - 1}")
            return x.long()
        if not torch.isfinite(x).all():
            raise not_allowed(name, "non-finite values", "continuous designs must be finite")
        return x.float()

    def score(self, x: Tensor) -> Tensor:
        """The oracle's raw values of designs x, (M,)."""
        return self.oracle(self.check_designs(x)).float()

    def normalise(self, y: Tensor) -> Tensor:
        return normalised_score(y, self.y_min, self.y_max)


def normalised_score(y: Tensor, y_min: float, y_max: float) -> Tensor:
    """Design-Bench's normalised score (y - y_min) / (y_max - y_min) (0 at the data's min, 1 at its max)."""
    return (y - y_min) / (y_max - y_min)


def percentile_scores(normalised: Tensor) -> dict[str, float]:
    """The protocol's summary of one trial's candidates: 100th (max) and 50th (median) percentile."""
    v = normalised.double().flatten()
    return {"p100": float(v.max()), "p50": float(v.quantile(0.5))}


# ---- sequence tables ---------------------------------------------------------------------------
def _codes(x: Tensor, n_classes: int) -> Tensor:
    """Base-n code of each row (x[:, 0] most significant), (M,) int64."""
    powers = n_classes ** torch.arange(x.shape[1] - 1, -1, -1, dtype=torch.int64)
    return (x.long() * powers).sum(1)


def _all_sequences(length: int, n_classes: int) -> Tensor:
    """Every sequence in code order, (n_classes**length, length) int64."""
    codes = torch.arange(n_classes**length, dtype=torch.int64)
    digits = [(codes // n_classes**p) % n_classes for p in range(length - 1, -1, -1)]
    return torch.stack(digits, 1)


def _table_oracle(table: Tensor, n_classes: int) -> Callable[[Tensor], Tensor]:
    return lambda x: table[_codes(x, n_classes)]


def _bottom_half(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Rows with y <= the 50th percentile (Design-Bench's ``max_percentile=50``)."""
    keep = y <= torch.quantile(y.double(), 0.5).float()
    return x[keep], y[keep]


def _subsample(x: Tensor, y: Tensor, n: int | None, seed: int) -> tuple[Tensor, Tensor]:
    if n is None or n >= len(x):
        return x, y
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    return x[idx], y[idx]


def tfbind8(n_train: int | None = None, seed: int = 0) -> OfflineTask:
    """Design-Bench TFBind8-Exact-v0 (all 65,792 rows; oracle = the table, last row of a sequence wins)."""
    x = torch.from_numpy(np.load(get_file("tfbind8", "tf_bind_8-x-0.npy"))).long()
    y = torch.from_numpy(np.load(get_file("tfbind8", "tf_bind_8-y-0.npy"))).float().flatten()
    table = torch.full((4**8,), float("nan"))
    table[_codes(x, 4)] = y  # later rows overwrite earlier ones, as Design-Bench's dict build
    xt, yt = _subsample(*_bottom_half(x, y), n_train, seed)
    return OfflineTask("tfbind8", xt, yt, _table_oracle(table, 4), float(y.min()), float(y.max()), n_classes=4)


def tfbind10(n_train: int | None = 10_000, seed: int = 0) -> OfflineTask:
    """Design-Bench TFBind10-Exact-v0 (pho4): ``n_train`` rows of the bottom-half pool (public
    DDOM/ROOT-style code uses ``max_samples=10000``), oracle = the exact 4^10 table."""
    data = np.load(get_file("tfbind10", "tf_bind_10_pho4.npz"))
    table = torch.from_numpy(data["oracle_y"]).float()
    x = torch.from_numpy(data["pool_x"]).long()
    y = torch.from_numpy(data["pool_y"]).float().flatten()
    xt, yt = _subsample(x, y, n_train, seed)
    # the full data's min/max (all 8,321,066 rows) equal the table's (MANIFEST: tfbind10 stats)
    return OfflineTask("tfbind10", xt, yt, _table_oracle(table, 4), float(table.min()), float(table.max()),
                       n_classes=4)


def synthetic_seq(length: int = 8, n_classes: int = 4, n_train: int | None = 4096, seed: int = 0) -> OfflineTask:
    """A seeded score over all n_classes**length sequences: per-position weights plus adjacent-pair
    interactions (an epistatic landscape with several modes); training set = ``n_train`` rows of the
    bottom half, the table is the exact oracle."""
    check_int("length", length, low=2, high=10)
    check_int("n_classes", n_classes, low=2, high=8)
    require("n_classes**length", n_classes**length, n_classes**length <= 4**10, "at most 4**10 sequences")
    g = torch.Generator().manual_seed(1000 + seed)
    unary = torch.randn(length, n_classes, generator=g)
    pair = 1.5 * torch.randn(length - 1, n_classes, n_classes, generator=g)
    x = _all_sequences(length, n_classes)
    pos = torch.arange(length)
    y = unary[pos, x].sum(1) + pair[pos[:-1], x[:, :-1], x[:, 1:]].sum(1)
    xt, yt = _subsample(*_bottom_half(x, y), n_train, seed)
    return OfflineTask("synthetic-seq", xt, yt, _table_oracle(y, n_classes), float(y.min()), float(y.max()),
                       n_classes=n_classes)


def ackley(dim: int = 20, n_train: int = 4096, seed: int = 0) -> OfflineTask:
    """-Ackley(x) on [-5, 5]^dim (a = 20, b = 0.2, c = 2 pi), maximum 0 at x = 0. Training set: the
    lower half of 2 * n_train uniform draws. y_min is the draws' min (the normalisation's 0)."""
    check_int("dim", dim, low=1)
    check_int("n_train", n_train, low=2)

    def f(x: Tensor) -> Tensor:
        d = x.shape[1]
        r = x.square().sum(1).div(d).sqrt()
        c = torch.cos(2 * math.pi * x).sum(1).div(d)
        return 20 * torch.exp(-0.2 * r) + torch.exp(c) - 20 - math.e

    g = torch.Generator().manual_seed(2000 + seed)
    x = 10 * torch.rand(2 * n_train, dim, generator=g) - 5
    y = f(x)
    xt, yt = _bottom_half(x, y)
    return OfflineTask("ackley", xt, yt, f, float(y.min()), 0.0, bounds=(-5.0, 5.0))


def make_task(name: str, *, n_train: int | None = None, seed: int = 0, length: int = 8, dim: int = 20) -> OfflineTask:
    """The task ``name`` (one of :data:`TASKS`); ``n_train`` None keeps the task's default size."""
    check_choice("task", name, TASKS)
    check_int("n_train", n_train, low=1, allow_none=True)
    check_int("seed", seed, low=0)
    if name == "tfbind8":
        return tfbind8(n_train, seed)
    if name == "tfbind10":
        return tfbind10(10_000 if n_train is None else n_train, seed)
    if name == "synthetic-seq":
        return synthetic_seq(length, 4, 4096 if n_train is None else n_train, seed)
    return ackley(dim, 4096 if n_train is None else n_train, seed)


def check_finite_target(name: str, value: float) -> None:
    """y* (or an offset of it) must be a finite number."""
    check_real(name, value)
