"""Calibration on Connect Four (the issue's "return achieved vs y* requested"): one LPT per seed,
fitted as in ``bench_connect4.py``, then asked for each outcome y* in {-1 (lose), 0 (draw),
+1 (win)} at w = 1 and w = 10 (20 planning steps); the mean return achieved and the outcome
frequencies per request. A calibrated planner's achieved return rises with y*.

    python packages/lpt-rl/benchmarks/bench_calibration.py --seeds 0 1 2 3 4 --episodes 400 --epochs 30 --eval 50

Writes results/calibration-connect4-cpu.json (with ``targets``) and .png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench_connect4 import NET, fit_lpt

from latent_ebm.core.metrics import paired_comparison
from latent_ebm.lpt_rl import LPTRLDataModule

OUT = Path(__file__).parent / "results"
REQUESTS = (-1.0, 0.0, 1.0)
WEIGHTS = (1.0, 10.0)


def run_seed(seed: int, n_data: int, epochs: int, n_eval: int, tmp: Path) -> dict:
    dm = LPTRLDataModule(env="connect4", n_episodes=n_data, batch_size=32, seed=seed)
    dm.setup("fit")
    lpt, fit_s = fit_lpt(dm, seed, epochs, tmp)
    res: dict = {"seed": seed, "fit_s": fit_s}
    for w in WEIGHTS:
        lpt.hparams.plan_weight = w
        for y in REQUESTS:
            out = lpt.evaluate(n_eval, targets=[y] * n_eval, seed=seed * 1000 + 1)
            r = np.asarray(out["returns"], dtype=float)
            res[f"w{w:g}_y{y:g}"] = {"return": float(r.mean()), "win": float((r > 0).mean()),
                                     "draw": float((r == 0).mean()), "loss": float((r < 0).mean())}
    print(json.dumps(res), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--episodes", type=int, default=400, help="offline games per seed")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--eval", type=int, default=50, help="evaluation games per request and seed")
    args = ap.parse_args()
    t0 = time.time()
    runs = []
    for s in args.seeds:  # rewritten after every seed
        runs.append(run_seed(s, args.episodes, args.epochs, args.eval, Path("/tmp/lpt-rl-bench-calibration")))
        write_report(args, runs, t0)


def write_report(args: argparse.Namespace, runs: list[dict], t0: float) -> None:
    ret = {w: {y: [r[f"w{w:g}_y{y:g}"]["return"] for r in runs] for y in REQUESTS} for w in WEIGHTS}
    summary = {f"w{w:g}": {f"{y:g}": {k: float(np.mean([r[f"w{w:g}_y{y:g}"][k] for r in runs]))
                                      for k in ("return", "win", "draw", "loss")} for y in REQUESTS} for w in WEIGHTS}
    tests = {f"w{w:g}: y*=+1 vs y*=-1": paired_comparison(ret[w][1.0], ret[w][-1.0])
             for w in WEIGHTS if len(runs) >= 2}
    targets = []
    for w in WEIGHTS:
        gap = float(np.mean(np.subtract(ret[w][1.0], ret[w][-1.0])))
        targets.append({"name": f"w = {w:g}: return achieved when asked to win above when asked to lose (paired mean diff)",
                        "value": gap, "goal": "> 0", "met": gap > 0})
        mono = all(np.mean(ret[w][a]) <= np.mean(ret[w][b]) for a, b in zip(REQUESTS, REQUESTS[1:]))
        targets.append({"name": f"w = {w:g}: mean return achieved non-decreasing in y* (-1, 0, +1)",
                        "value": [round(float(np.mean(ret[w][y])), 3) for y in REQUESTS], "goal": "non-decreasing",
                        "met": bool(mono)})
    report = {"benchmark": "Connect Four calibration: return achieved vs y* requested", "machine": "cpu",
              "seeds": [r["seed"] for r in runs], "episodes": args.episodes, "epochs": args.epochs,
              "eval_games": args.eval, "net": NET, "summary": summary, "paired_tests": tests, "targets": targets,
              "runs": runs, "wall_s": time.time() - t0}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "calibration-connect4-cpu.json").write_text(json.dumps(report, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4))
    ax.plot([-1, 1], [-1, 1], color="0.6", ls="--", lw=1, label="achieved = requested")
    for i, w in enumerate(WEIGHTS):
        ax.errorbar(np.array(REQUESTS) + 0.04 * (i - 0.5), [np.mean(ret[w][y]) for y in REQUESTS],
                    yerr=[np.std(ret[w][y]) for y in REQUESTS], marker="o", capsize=3, color=f"C{i}",
                    label=f"w = {w:g}")
    ax.set(xlabel="y* requested (-1 lose, 0 draw, +1 win)", ylabel="mean return achieved",
           title=f"Connect Four calibration, {len(runs)} seeds", xticks=REQUESTS, ylim=(-1.05, 1.05))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "calibration-connect4-cpu.png", dpi=100)
    print(json.dumps({"summary": summary, "targets": targets, "wall_s": report["wall_s"]}, indent=1))


if __name__ == "__main__":
    main()
