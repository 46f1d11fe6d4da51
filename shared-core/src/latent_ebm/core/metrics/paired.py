"""Paired comparison of two models' per-seed scores: is one lower, or is the gap inside the
seed-to-seed noise?

Runs with the same seed share data and initial weights, so the per-seed difference removes that
part of the spread; what is left is the training noise. Reported: the mean difference with a 95%
percentile-bootstrap interval over seeds, how many seeds the first model was lower on, and the
exact two-sided sign-test p-value. ``verdict`` is "lower" / "higher" only when both agree: the
interval excludes 0 and the sign test gives p < 0.05 (with ten seeds, 9 of 10). Both, because
per-seed scores are heavy-tailed (one diverged run moves a mean) and the percentile bootstrap is
optimistic over so few seeds; else "unresolved". (Moved here from the ode-lebm benchmarks.)
"""

from __future__ import annotations

from math import comb

import numpy as np

__all__ = ["compare_runs", "paired_comparison", "sign_test_p"]


def sign_test_p(wins: int, n: int) -> float:
    """Two-sided exact binomial p-value of ``wins`` of ``n`` under p = 1/2."""
    k = min(wins, n - wins)
    return min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2**n)


def paired_comparison(a: list[float], b: list[float], *, n_boot: int = 10_000, seed: int = 0) -> dict:
    """``a`` vs ``b`` seed by seed (same length, same seed order): ``{"n", "mean_diff" (a - b),
    "ci95", "wins" (seeds with a < b), "ties" (seeds with a == b), "sign_test_p", "verdict"}``.
    The sign test counts the untied seeds only (the textbook rule): all ties give p = 1."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"need two equally long lists of >= 2 per-seed values; got {len(a)} and {len(b)}")
    d = np.asarray(a, float) - np.asarray(b, float)
    boots = np.random.default_rng(seed).choice(d, size=(n_boot, len(d))).mean(1)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    wins, ties = int((d < 0).sum()), int((d == 0).sum())
    p = sign_test_p(wins, len(d) - ties) if ties < len(d) else 1.0
    verdict = "unresolved" if p >= 0.05 else "lower" if hi < 0 else "higher" if lo > 0 else "unresolved"
    return {"n": len(d), "mean_diff": float(d.mean()), "ci95": [float(lo), float(hi)], "wins": wins,
            "ties": ties, "sign_test_p": p, "verdict": verdict}


def compare_runs(entries: dict, first: str, others: tuple[str, ...], key: str) -> dict:
    """``paired_comparison`` of ``first`` against each of ``others`` present in ``entries``
    (model -> {"runs": [{"seed": s, key: value, ...}, ...]}) over the seeds both ran:
    {other: {"seeds": [first seed, last seed], **comparison}}; pairs with < 2 shared seeds are left out."""
    out = {}
    if first not in entries:
        return out

    def by_seed(name: str) -> dict[int, float]:
        return {r.get("seed", i): r[key] for i, r in enumerate(entries[name]["runs"])}

    mine = by_seed(first)
    for other in others:
        if other not in entries:
            continue
        theirs = by_seed(other)
        seeds = sorted(mine.keys() & theirs.keys())
        if len(seeds) >= 2:
            out[other] = {"seeds": [seeds[0], seeds[-1]],
                          **paired_comparison([mine[s] for s in seeds], [theirs[s] for s in seeds])}
    return out
