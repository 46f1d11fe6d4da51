"""How much of a benchmark result is the sampler's noise? Reruns ``bench_prediction.run_one``
with the models' sampler seed shifted by ``--sampler-offset`` while the data and the initial
weights keep the run's seed, then compares the two MCMC models seed by seed (``paired.py``).

    OMP_NUM_THREADS=1 python benchmarks/probe_sampler_noise.py --dataset sinusoids --seeds 0-9 \
        --sampler-offset 1000 [--models ode-lebm,gaussian-prior] [--out sampler-noise-sinusoids]

Writes ``results/<out>-cpu.json``: the per-seed rows and the paired comparison. With offset 0 the
rows are ``bench_prediction.py``'s own.
"""

from __future__ import annotations

import argparse
import json
import time

import bench_prediction as bench
import torch
from paired import compare_runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", default="sinusoids", choices=sorted(bench.SETUPS))
    ap.add_argument("--seeds", default="0-9", help="first-last seed, inclusive")
    ap.add_argument("--sampler-offset", type=int, default=1000, help="added to the models' sampler seed only")
    ap.add_argument("--models", default="ode-lebm,gaussian-prior")
    ap.add_argument("--steps-scale", type=float, default=1.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
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
              "paired_extrap": compare_runs(entries, models[0], tuple(models[1:]))}
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    (bench.RESULTS / f"{out}-cpu.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report["paired_extrap"], indent=1))


if __name__ == "__main__":
    main()
