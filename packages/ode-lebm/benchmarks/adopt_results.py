"""Adopt a dataset's rows from a separate ``bench_prediction.py --out <name>`` run into the main
results file, keeping the rows they replace under ``superseded`` (with the setup they ran on).

    python benchmarks/adopt_results.py benchmarks/results/prediction-lv-cpu.json \
        [--into benchmarks/results/prediction-cpu.json] [--datasets lotka_volterra] [--why "..."]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def adopt(src: dict, dst: dict, datasets: list[str], why: str) -> dict:
    """``dst`` with ``src``'s results and setups for ``datasets``; the old ones go to ``superseded``."""
    for d in datasets:
        if d not in src["results"]:
            raise ValueError(f"--datasets has {d!r}, which the source file has no results for; "
                             f"it has {sorted(src['results'])}")
        if d in dst["results"]:
            dst.setdefault("superseded", []).append(
                {"dataset": d, "why": why, "setup": dst["setups"].get(d), "results": dst["results"][d]})
        dst["results"][d] = src["results"][d]
        dst["setups"][d] = src["setups"][d]
    dst["ode_lebm_best_extrap_on"] = [d for d, r in dst["results"].items() if r["best_extrap"] == "ode-lebm"]
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("source")
    ap.add_argument("--into", default=str(Path(__file__).parent / "results" / "prediction-cpu.json"))
    ap.add_argument("--datasets", default=None, help="comma-separated; default: every dataset in the source")
    ap.add_argument("--why", default="", help="recorded beside the superseded rows")
    args = ap.parse_args()
    src = json.loads(Path(args.source).read_text())
    dst = json.loads(Path(args.into).read_text())
    datasets = args.datasets.split(",") if args.datasets else list(src["results"])
    Path(args.into).write_text(json.dumps(adopt(src, dst, datasets, args.why), indent=1))
    print("ODE-LEBM best extrapolation on", dst["ode_lebm_best_extrap_on"])


if __name__ == "__main__":
    main()
