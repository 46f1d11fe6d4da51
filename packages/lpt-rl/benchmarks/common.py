"""Pieces the benchmarks share: the d3rlpy baselines (CQL, IQL; settings: ``offline.baseline_settings``), the merge of
new methods into a result file, and the per-method bar plot (the benchmarks import this module
from their own folder: run them as ``python packages/lpt-rl/benchmarks/bench_*.py``)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

D3RLPY_METHODS = ("cql", "iql")
D3RLPY_STEPS = int(os.environ.get("LPT_RL_D3RLPY_STEPS", "1000"))  # gradient steps (recorded in the JSON)


def fit_d3rlpy(env: str, method: str, episodes: list, seed: int, n_steps: int = D3RLPY_STEPS):
    """A fitted ``OfflineRLBaseline`` (d3rlpy's log lines silenced) and its fit wall time."""
    from latent_ebm.lpt_rl.offline import OfflineRLBaseline, baseline_settings, quiet_d3rlpy

    quiet_d3rlpy()
    t = time.time()
    model = OfflineRLBaseline(**baseline_settings(env, method), n_steps=n_steps, seed=seed).fit(episodes)
    return model, time.time() - t


def merge_runs(path: Path, seeds: Sequence[int], runs: list[dict], same: dict) -> list[dict]:
    """``runs`` (one per seed, new method keys) merged into the runs already in ``path`` for those
    seeds; ``same`` holds the settings that must match the file's (else exit with an error)."""
    if not path.is_file():
        raise SystemExit(f"error: --merge needs {path}")
    old = json.loads(path.read_text())
    diff = {k: (old.get(k), v) for k, v in same.items() if old.get(k) != v}
    if diff:
        raise SystemExit(f"error: --merge needs the settings of the runs already there: {diff}")
    by_seed = dict(zip(old["seeds"], old["runs"]))
    missing = [s for s in seeds if s not in by_seed]
    if missing:
        raise SystemExit(f"error: --merge: seeds {missing} are not in {path}")
    for s, r in zip(seeds, runs):
        by_seed[s].update({k: v for k, v in r.items() if k != "seed"})
    return [by_seed[s] for s in old["seeds"]]


def method_bars(ax, methods: dict[str, str], runs: list[dict], key: str) -> None:
    """One bar per method (mean of ``<method>_<key>`` over runs) with each seed as a dot."""
    x = np.arange(len(methods))
    ax.bar(x, [np.mean([r[f"{m}_{key}"] for r in runs]) for m in methods], 0.6, color="C0", alpha=0.7)
    for i, m in enumerate(methods):
        ax.plot([i] * len(runs), [r[f"{m}_{key}"] for r in runs], "k.", ms=6)
    ax.set_xticks(x, list(methods.values()), fontsize=8, rotation=20)
