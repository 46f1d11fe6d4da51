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
- ``utr``: Design-Bench UTR (280,000 5' UTR 50-mers, ribosome loading); training set =
  ``n_train`` rows of the bottom half. The ResNet oracle's weights are not available, so the
  oracle is a **stand-in**: a ridge regression on the adjacent-pair (dinucleotide) one-hots of a
  sequence (additive + nearest-neighbour terms) fitted on all 280,000 rows (:func:`utr_standin_oracle`); scores are not comparable with
  published UTR numbers and every table labels them as stand-in.
- ``superconductor``: Design-Bench Superconductor (86 element counts per formula unit, critical
  temperature) on the 19,137 labelled UCI rows that are available (``superconductor-uci-90pct``);
  training set = the rows with y <= the 80th percentile (Design-Bench's ``max_percentile=80``);
  oracle = a random forest **rebuilt** with scikit-learn as Design-Bench builds it
  (``n_estimators=100, max_depth=100``, all features, a seeded 2,000-row sample of the data:
  ``oracle_kwargs max_samples=2000``), so scores are not comparable with published numbers.
  Designs live in standardised units (each element column z-scored by the labelled rows' mean and
  std); ``task.x_mean`` / ``task.x_std`` map them back (``task.raw_designs``). Needs the
  ``oracles`` extra (scikit-learn).
- ``ackley``: negated Ackley on [-5, 5]^dim, optimum 0 at the origin; training set = the lower
  half of uniform draws, so the regret y_max - y is exact.
- ``rastrigin``: negated Rastrigin on [-5.12, 5.12]^dim, optimum 0 at the origin (10^dim local
  optima); training set as for ``ackley``.
- ``branin``: negated Branin on the unit cube (x1 = 15 u1 - 5, x2 = 15 u2), maximum -0.397887 at
  three points; with ``dim`` > 2 the other coordinates are inert (the high-dimensional BO
  convention of a 2-d function embedded in D dimensions); training set as for ``ackley``.
- ``mixture``: a multi-modal landscape of five Gaussian bumps on [-5, 5]^dim with distinct
  heights (1, 0.8, 0.65, 0.5, 0.35) and widths (4, 4.5, 5, 5, 5.5), centres fixed by a seed in
  [-3, 3]^dim (not the origin, so the training data's mean is not the optimum); the value is the
  upper envelope max_k h_k exp(-|x - c_k|² / (2 w_k²)) (:func:`mixture`), so the global maximum is
  exactly 1 at the highest bump's centre and every other centre is a local maximum; training set
  as for ``ackley``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from latent_ebm.core.checks import check_choice, check_int, check_real, not_allowed, require
from latent_ebm.core.data import get_file

__all__ = ["TASKS", "OfflineTask", "ackley", "branin", "make_task", "normalised_score", "percentile_scores",
           "mixture", "rastrigin", "superconductor", "utr", "utr_standin_oracle"]

TASKS = ("synthetic-seq", "tfbind8", "tfbind10", "utr", "superconductor", "ackley", "rastrigin", "branin", "mixture")


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
        x_mean, x_std: (D,) the standardisation of continuous designs whose design space is
            standardised (``superconductor``); None where designs are in raw units.
        oracle_note: what the oracle is where it is not exact (a stand-in or a rebuilt model).
    """

    name: str
    x_train: Tensor
    y_train: Tensor
    oracle: Callable[[Tensor], Tensor]
    y_min: float
    y_max: float
    n_classes: int = 0
    bounds: tuple[float, float] | None = None
    x_mean: Tensor | None = None
    x_std: Tensor | None = None
    oracle_note: str = "exact"

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

    def raw_designs(self, x: Tensor) -> Tensor:
        """Designs in the data's own units (undoes the standardisation of continuous designs)."""
        x = self.check_designs(x)
        return x if self.x_mean is None else x * self.x_std + self.x_mean


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


@functools.lru_cache(maxsize=1)
def _load_utr() -> tuple[Tensor, Tensor]:
    """All 280,000 UTR rows in ``UTR_FILES`` order: x (N, 50) int64, y (N,) float32."""
    import gzip
    import io

    xs, ys = [], []
    for i in range(14):
        for name, out in ((f"utr-x-{i}.npy.gz", xs), (f"utr-y-{i}.npy.gz", ys)):
            with gzip.open(get_file("utr", name)) as fh:
                out.append(np.load(io.BytesIO(fh.read())))
    return torch.from_numpy(np.concatenate(xs)).long(), torch.from_numpy(np.concatenate(ys)).float().flatten()


def _pair_codes(x: Tensor, n_classes: int) -> Tensor:
    """Global index of each adjacent pair's one-hot: position p's pair (x_p, x_p+1) -> p * C² + code, (M, L-1)."""
    c2 = n_classes * n_classes
    return x[:, :-1] * n_classes + x[:, 1:] + c2 * torch.arange(x.shape[1] - 1)


def utr_standin_oracle(x: Tensor, y: Tensor, *, ridge: float = 1.0, n_classes: int = 4) -> Callable[[Tensor], Tensor]:
    """A ridge regression of y on the one-hot adjacent pairs (x_p, x_p+1) of a sequence (their span
    holds the per-position one-hots and the constant, so this is an additive + nearest-neighbour
    epistasis model), fitted on (x, y) by the normal equations: the UTR task's stand-in oracle.
    Psi^T Psi is counted exactly (one bincount per pair position), not multiplied out."""
    check_real("ridge", ridge, low=0.0)
    c2, n_pos = n_classes * n_classes, x.shape[1] - 1
    n_feat = n_pos * c2
    codes = _pair_codes(x.long(), n_classes).numpy().astype(np.int32)
    gram = np.zeros((n_feat, n_feat))
    for p in range(n_pos):  # block row p, columns of positions q >= p (the rest by symmetry)
        local = codes[:, p:p + 1] - c2 * p  # 0..C²-1
        cols = codes[:, p:] - c2 * p  # 0..(n_pos - p) C² - 1
        width = n_feat - c2 * p
        counts = np.bincount((local * width + cols).ravel(), minlength=c2 * width).reshape(c2, width)
        gram[c2 * p:c2 * (p + 1), c2 * p:] = counts
        gram[c2 * p:, c2 * p:c2 * (p + 1)] = counts.T
    gram = torch.from_numpy(gram)
    rhs = torch.from_numpy(np.bincount(codes.ravel(), weights=np.repeat(y.double().numpy(), n_pos),
                                       minlength=n_feat))
    w = torch.linalg.solve(gram + ridge * torch.eye(n_feat, dtype=torch.float64), rhs).float()

    def oracle(xq: Tensor) -> Tensor:
        return w[_pair_codes(xq.long(), n_classes)].sum(1)

    return oracle


@functools.lru_cache(maxsize=2)
def _utr_oracle(ridge: float, oracle_rows: int | None) -> Callable[[Tensor], Tensor]:
    """The stand-in oracle, fitted once per process (about a minute on a loaded CPU for all rows)."""
    x, y = _load_utr()
    return utr_standin_oracle(x[:oracle_rows], y[:oracle_rows], ridge=ridge)


def utr(n_train: int | None = 10_000, seed: int = 0, ridge: float = 1.0, oracle_rows: int | None = None
        ) -> OfflineTask:
    """Design-Bench UTR (5' UTR 50-mers) with the stand-in oracle :func:`utr_standin_oracle` fitted
    on all 280,000 rows (the first ``oracle_rows`` if given: tests); training set = ``n_train`` rows
    of the bottom half (140,000 rows); normalised by the full data's min/max (0 and 12)."""
    check_int("oracle_rows", oracle_rows, low=2, allow_none=True)
    check_real("ridge", ridge, low=0.0)
    x, y = _load_utr()
    oracle = _utr_oracle(ridge, oracle_rows)
    xt, yt = _subsample(*_bottom_half(x, y), n_train, seed)
    return OfflineTask("utr", xt, yt, oracle, float(y.min()), float(y.max()), n_classes=4,
                       oracle_note="stand-in: ridge on adjacent-pair one-hots fitted on all 280,000 rows "
                                   "(the ResNet oracle's weights are not available)")


@functools.lru_cache(maxsize=1)
def _load_superconductor() -> tuple[Tensor, Tensor]:
    """The 19,137 labelled rows: x (N, 86) float32 element counts (H..Rn), y (N,) critical temperature."""
    import csv
    import gzip

    with gzip.open(get_file("superconductor-uci-90pct", "composition_train.csv.gz"), "rt") as fh:
        rows = list(csv.reader(fh))
    head, body = rows[0], rows[1:]
    require("composition_train.csv header", head[87:89], head[87:89] == ["critical_temp", "material"],
            "columns id, 86 elements, critical_temp, material")
    arr = np.asarray([r[1:88] for r in body], dtype=np.float32)
    return torch.from_numpy(arr[:, :86]), torch.from_numpy(arr[:, 86])


@functools.lru_cache(maxsize=2)
def _superconductor_forest(n_estimators: int, oracle_rows: int, oracle_seed: int):
    """The rebuilt random-forest oracle on raw element counts, fitted once per process."""
    try:
        from sklearn.ensemble import RandomForestRegressor
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("the superconductor task's oracle needs scikit-learn: "
                          "pip install 'latent-ebm-leo[oracles]'") from err
    x, y = _load_superconductor()
    pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(oracle_seed))[:oracle_rows]
    forest = RandomForestRegressor(n_estimators=n_estimators, max_depth=100, max_features=1.0,
                                   random_state=oracle_seed, n_jobs=1)
    return forest.fit(x[pick].numpy(), y[pick].numpy())


def superconductor(n_train: int | None = None, seed: int = 0, *, n_estimators: int = 100,
                   oracle_rows: int = 2000, oracle_seed: int = 0) -> OfflineTask:
    """Design-Bench Superconductor-RandomForest-v0, **rebuilt** on the 90 % of UCI rows available:
    training set = rows with y <= the 80th percentile (``n_train`` of them if given); oracle =
    ``RandomForestRegressor(n_estimators, max_depth=100, max_features=1.0)`` fitted on a
    ``oracle_seed``-seeded ``oracle_rows`` sample of all labelled rows (the same oracle for every
    trial seed). Designs are standardised element counts (``x_mean`` / ``x_std``)."""
    check_int("n_estimators", n_estimators, low=1)
    check_int("oracle_rows", oracle_rows, low=2)
    x, y = _load_superconductor()
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    forest = _superconductor_forest(n_estimators, oracle_rows, oracle_seed)

    def oracle(xs: Tensor) -> Tensor:
        raw = (xs.float() * std + mean).numpy()
        return torch.from_numpy(forest.predict(raw)).float()

    keep = y <= torch.quantile(y.double(), 0.8).float()
    xt, yt = _subsample((x[keep] - mean) / std, y[keep], n_train, seed)
    return OfflineTask("superconductor", xt, yt, oracle, float(y.min()), float(y.max()), x_mean=mean, x_std=std,
                       oracle_note=f"rebuilt random forest ({n_estimators} trees, {oracle_rows} rows of the "
                                   "90 % UCI subset), not comparable with published numbers")


def _function_task(name: str, f: Callable[[Tensor], Tensor], dim: int, low: float, high: float, y_opt: float,
                   n_train: int, seed: int, seed_offset: int) -> OfflineTask:
    """A synthetic function on [low, high]^dim with a known maximum y_opt; training set = the lower
    half of 2 * n_train uniform draws; y_min = the draws' min (the normalisation's 0)."""
    check_int("dim", dim, low=1)
    check_int("n_train", n_train, low=2)
    g = torch.Generator().manual_seed(seed_offset + seed)
    x = (high - low) * torch.rand(2 * n_train, dim, generator=g) + low
    y = f(x)
    xt, yt = _bottom_half(x, y)
    return OfflineTask(name, xt, yt, f, float(y.min()), y_opt, bounds=(low, high))


def ackley(dim: int = 20, n_train: int = 4096, seed: int = 0) -> OfflineTask:
    """-Ackley(x) on [-5, 5]^dim (a = 20, b = 0.2, c = 2 pi), maximum 0 at x = 0. Training set: the
    lower half of 2 * n_train uniform draws. y_min is the draws' min (the normalisation's 0)."""

    def f(x: Tensor) -> Tensor:
        d = x.shape[1]
        r = x.square().sum(1).div(d).sqrt()
        c = torch.cos(2 * math.pi * x).sum(1).div(d)
        return 20 * torch.exp(-0.2 * r) + torch.exp(c) - 20 - math.e

    return _function_task("ackley", f, dim, -5.0, 5.0, 0.0, n_train, seed, 2000)


def rastrigin(dim: int = 20, n_train: int = 4096, seed: int = 0) -> OfflineTask:
    """-Rastrigin(x) = -(10 d + sum_i x_i² - 10 cos(2 pi x_i)) on [-5.12, 5.12]^dim, maximum 0 at x = 0."""

    def f(x: Tensor) -> Tensor:
        return -(10 * x.shape[1] + (x.square() - 10 * torch.cos(2 * math.pi * x)).sum(1))

    return _function_task("rastrigin", f, dim, -5.12, 5.12, 0.0, n_train, seed, 3000)


BRANIN_MAX = -0.39788735772973816  # -min Branin = -5 / (4 pi) (at (-pi, 12.275), (pi, 2.275), (9.42478, 2.475))


def branin(dim: int = 2, n_train: int = 4096, seed: int = 0) -> OfflineTask:
    """-Branin on the unit cube: x1 = 15 u_0 - 5, x2 = 15 u_1 (a = 1, b = 5.1 / (4 pi²), c = 5 / pi,
    r = 6, s = 10, t = 1 / (8 pi)); coordinates u_2.. (``dim`` > 2) are inert. Maximum -0.397887."""
    check_int("dim", dim, low=2)

    def f(u: Tensor) -> Tensor:
        x1, x2 = 15 * u[:, 0] - 5, 15 * u[:, 1]
        b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
        return -((x2 - b * x1.square() + c * x1 - 6).square() + 10 * (1 - t) * torch.cos(x1) + 10)

    return _function_task("branin", f, dim, 0.0, 1.0, BRANIN_MAX, n_train, seed, 4000)


MIXTURE_HEIGHTS = (1.0, 0.8, 0.65, 0.5, 0.35)
MIXTURE_WIDTHS = (4.0, 4.5, 5.0, 5.0, 5.5)


def mixture_centres(dim: int = 20) -> Tensor:
    """The bumps' centres, (5, dim), uniform in [-3, 3]^dim from a fixed generator (row 0: the global maximum)."""
    check_int("dim", dim, low=1)
    g = torch.Generator().manual_seed(5000)
    return 6 * torch.rand(len(MIXTURE_HEIGHTS), dim, generator=g) - 3


def mixture(dim: int = 20, n_train: int = 4096, seed: int = 0) -> OfflineTask:
    """A multi-modal mixture on [-5, 5]^dim: f(x) = max_k h_k exp(-|x - c_k|² / (2 w_k²)), the upper
    envelope of five Gaussian bumps (heights :data:`MIXTURE_HEIGHTS`, widths :data:`MIXTURE_WIDTHS`,
    centres :func:`mixture_centres`). The envelope, not the sum, so that the optimum is exact: each
    term is at most h_k, the first reaches h_0 = 1 at c_0, so max f = 1 at x* = c_0 and nowhere else;
    the other centres are local maxima (their bumps dominate there: the centres lie about 9-15
    apart). The global bump is the narrowest, the lowest the widest (they cover more of the box).
    Training set: the lower half of 2 * n_train uniform draws; y_min the draws' min."""
    centres = mixture_centres(dim)
    heights, widths = torch.tensor(MIXTURE_HEIGHTS), torch.tensor(MIXTURE_WIDTHS)

    def f(x: Tensor) -> Tensor:
        sq = (x.double()[:, None, :] - centres.double()).square().sum(-1)
        return (heights.double() * torch.exp(-sq / (2 * widths.double().square()))).amax(1).float()

    return _function_task("mixture", f, dim, -5.0, 5.0, 1.0, n_train, seed, 5100)


def make_task(name: str, *, n_train: int | None = None, seed: int = 0, length: int = 8, dim: int | None = None
              ) -> OfflineTask:
    """The task ``name`` (one of :data:`TASKS`); ``n_train`` None keeps the task's default size,
    ``dim`` None the function's default dimension (20; 2 for ``branin``)."""
    check_choice("task", name, TASKS)
    check_int("n_train", n_train, low=1, allow_none=True)
    check_int("seed", seed, low=0)
    check_int("dim", dim, low=1, allow_none=True)
    if name == "tfbind8":
        return tfbind8(n_train, seed)
    if name == "tfbind10":
        return tfbind10(10_000 if n_train is None else n_train, seed)
    if name == "utr":
        return utr(10_000 if n_train is None else n_train, seed)
    if name == "superconductor":
        return superconductor(n_train, seed)
    if name == "synthetic-seq":
        return synthetic_seq(length, 4, 4096 if n_train is None else n_train, seed)
    fn = {"ackley": ackley, "rastrigin": rastrigin, "branin": branin, "mixture": mixture}[name]
    return fn(dim or (2 if name == "branin" else 20), 4096 if n_train is None else n_train, seed)


def check_finite_target(name: str, value: float) -> None:
    """y* (or an offset of it) must be a finite number."""
    check_real(name, value)
