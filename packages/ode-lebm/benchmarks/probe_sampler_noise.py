"""How much of a benchmark result is the sampler's noise? Reruns ``bench_prediction.run_one``
with the models' sampler seed shifted by ``--sampler-offset`` while the data and the initial
weights keep the run's seed, then compares the two MCMC models seed by seed (``latent_ebm.core.metrics.paired``).

    OMP_NUM_THREADS=1 python benchmarks/probe_sampler_noise.py --dataset sinusoids --seeds 0-9 \
        --sampler-offset 1000 [--models ode-lebm,gaussian-prior] [--out sampler-noise-sinusoids]

Writes ``results/<out>-cpu.json``: the per-seed rows and the paired comparison. With offset 0 the
rows are ``bench_prediction.py``'s own.

    python benchmarks/probe_sampler_noise.py --compare results/A-cpu.json results/B-cpu.json [--dataset ...]

prints, per model, the mean extrapolation MSE of each file, the per-seed correlation over the seeds
both hold (one seed under two noise streams), and the pooled paired comparison of the first two
models over both files' runs. Either file may be a probe's or ``bench_prediction.py``'s
(``prediction-cpu.json:superseded``: the rows an adopted run replaced).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import bench_prediction as bench
import numpy as np
import torch

from latent_ebm.core.metrics import compare_runs, paired_comparison


def _entries(path: str, dataset: str) -> dict:
    """model -> {seed: extrap MSE} of a probe's or bench_prediction's results file; ``FILE:superseded``
    reads the dataset's last rows under ``superseded`` (those an adopted run replaced)."""
    path, _, part = path.partition(":")
    report = json.loads(Path(path).read_text())
    if part == "superseded":
        entries = [s for s in report["superseded"] if s["dataset"] == dataset][-1]["results"]
    else:
        entries = report["results"][dataset] if "dataset" not in report else report["results"]
    return {m: {r.get("seed", i): r["extrap_mse"] for i, r in enumerate(e["runs"])}
            for m, e in entries.items() if isinstance(e, dict) and "runs" in e}


def compare(path_a: str, path_b: str, dataset: str) -> dict:
    """Each model's mean in each file, the per-seed correlation over the seeds both files hold, and
    the first two models' paired comparison over the runs of both files pooled."""
    a, b = _entries(path_a, dataset), _entries(path_b, dataset)
    out: dict = {"models": {}}
    for m in a.keys() & b.keys():
        out["models"][m] = {"seeds_a": sorted(a[m]), "seeds_b": sorted(b[m]), "mean_a": float(np.mean(list(a[m].values()))),
                            "mean_b": float(np.mean(list(b[m].values())))}
        seeds = sorted(a[m].keys() & b[m].keys())
        if len(seeds) >= 2:  # the same seeds under two noise streams
            va, vb = np.array([a[m][s] for s in seeds]), np.array([b[m][s] for s in seeds])
            out["models"][m] |= {"same_seeds": [seeds[0], seeds[-1]], "mean_a_same_seeds": float(va.mean()),
                                 "mean_b_same_seeds": float(vb.mean()),
                                 "corr_same_seeds": float(np.corrcoef(va, vb)[0, 1])}
    pair = [m for m in bench.MODELS if m in a and m in b][:2]
    if len(pair) == 2:
        x, y = pair
        rows = [(r[x][s], r[y][s]) for r in (a, b) for s in sorted(r[x].keys() & r[y].keys())]
        out[f"{x} vs {y}, pooled"] = paired_comparison([u for u, _ in rows], [v for _, v in rows])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"), default=None, help="compare two results files")
    ap.add_argument("--dataset", default="sinusoids", choices=sorted(bench.SETUPS))
    ap.add_argument("--seeds", default="0-9", help="first-last seed, inclusive")
    ap.add_argument("--sampler-offset", type=int, default=1000, help="added to the models' sampler seed only")
    ap.add_argument("--models", default="ode-lebm,gaussian-prior")
    ap.add_argument("--steps-scale", type=float, default=1.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.compare:
        print(json.dumps(compare(*args.compare, args.dataset), indent=1))
        return
    lo, hi = (int(s) for s in args.seeds.split("-"))
    models = args.models.split(",")
    if unknown := set(models) - set(bench.MODELS):
        raise ValueError(f"--models has {sorted(unknown)}; allowed: {bench.MODELS}")
    torch.set_num_threads(1)
    make_model = bench._model
    bench._model = lambda name, setup, n, seed: make_model(name, setup, n, seed + args.sampler_offset)
    entries: dict = {m: {"runs": []} for m in models}
    start = time.perf_counter()
    for seed in range(lo, hi + 1):
        for name in models:
            res, _ = bench.run_one(args.dataset, name, seed, args.steps_scale)
            entries[name]["runs"].append({**res, "seed": seed})
            print(name, seed, round(res["extrap_mse"], 4), flush=True)
    out = args.out or f"sampler-noise-{args.dataset}-off{args.sampler_offset}"
    report = {"dataset": args.dataset, "setup": bench.SETUPS[args.dataset], "seeds": [lo, hi],
              "sampler_offset": args.sampler_offset, "results": entries, "total_s": time.perf_counter() - start,
              "paired_extrap": compare_runs(entries, models[0], tuple(models[1:]), key="extrap_mse")}
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    (bench.RESULTS / f"{out}-cpu.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report["paired_extrap"], indent=1))


if __name__ == "__main__":
    main()
