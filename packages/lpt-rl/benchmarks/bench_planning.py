"""Planning-time sweeps on Connect Four (the issue's "latent-inference steps at test time" and "w
against score"): one LPT per seed, fitted exactly as in ``bench_connect4.py`` (same data, network
and epochs), then evaluated at y* = +1 with

- the planning Langevin's length n in {0, 5, 20, 50} (step 0.3, the code's ``infer_z_given_y``;
  n = 0 acts with z = U(z0), z0 ~ N(0, I): no inference, the prior's plan), at w = 1 and w = 10;
- the exponent w of Eq. 7, p(z0 | y*) ∝ N(z0; 0, I) p(y* | U(z0))^w, in {0, 1, 3, 10, 30} at the
  default 20 steps (w = 0 samples the prior by Langevin: the ablation of the return model).

Every setting of a seed plays the same opponent seeds (paired). Win rate over ``--eval`` games.

    python packages/lpt-rl/benchmarks/bench_planning.py --seeds 0 1 2 3 4 --episodes 400 --epochs 30 --eval 50

Writes results/planning-connect4-cpu.json (with ``targets``) and .png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench_connect4 import NET, fit_lpt

from latent_ebm.core.metrics import paired_comparison
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.lpt_rl import LPTRLDataModule

OUT = Path(__file__).parent / "results"
STEPS = (0, 5, 20, 50)
WEIGHTS = (0.0, 1.0, 3.0, 10.0, 30.0)


def run_seed(seed: int, n_data: int, epochs: int, n_eval: int, tmp: Path) -> dict:
    dm = LPTRLDataModule(env="connect4", n_episodes=n_data, batch_size=32, seed=seed)
    dm.setup("fit")
    lpt, fit_s = fit_lpt(dm, seed, epochs, tmp)
    res: dict = {"seed": seed, "fit_s": fit_s, "steps": {}, "weights": {}}
    base = lpt.plan_schedule

    def win_rate(n_steps: int, w: float) -> float:
        lpt.hparams.plan_weight = w
        plan = LangevinSchedule(n_steps=n_steps, step_size=base.step_size, noise_scale=base.noise_scale)
        return float(lpt.evaluate(n_eval, targets=[1.0] * n_eval, seed=seed * 1000 + 1, plan=plan)["win_rate"])

    for w in (1.0, 10.0):
        res["steps"][f"w{w:g}"] = {str(n): win_rate(n, w) for n in STEPS}
    res["weights"] = {f"{w:g}": win_rate(base.n_steps, w) for w in WEIGHTS}
    print(json.dumps(res), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--episodes", type=int, default=400, help="offline games per seed")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--eval", type=int, default=50, help="evaluation games per setting and seed")
    args = ap.parse_args()
    t0 = time.time()
    runs = []
    for s in args.seeds:  # rewritten after every seed
        runs.append(run_seed(s, args.episodes, args.epochs, args.eval, Path("/tmp/lpt-rl-bench-planning")))
        write_report(args, runs, t0)


def write_report(args: argparse.Namespace, runs: list[dict], t0: float) -> None:
    steps = {w: {n: [r["steps"][w][str(n)] for r in runs] for n in STEPS} for w in runs[0]["steps"]}
    weights = {w: [r["weights"][f"{w:g}"] for r in runs] for w in WEIGHTS}
    summary = {"steps": {w: {str(n): float(np.mean(v)) for n, v in d.items()} for w, d in steps.items()},
               "weights": {f"{w:g}": float(np.mean(v)) for w, v in weights.items()}}
    tests = {}
    if len(runs) >= 2:
        for w, d in steps.items():
            tests[f"{w}: 20 steps vs 0"] = paired_comparison(d[20], d[0])
        tests["w10 vs w1 (20 steps)"] = paired_comparison(weights[10.0], weights[1.0])
        tests["w1 vs w0 (20 steps)"] = paired_comparison(weights[1.0], weights[0.0])
    gain = lambda a, b: float(np.mean(np.subtract(a, b)))  # noqa: E731
    targets = [
        {"name": "inferring the plan helps: win rate at 20 planning steps above 0 steps (w = 1; paired mean diff)",
         "value": gain(steps["w1"][20], steps["w1"][0]), "goal": "> 0", "met": gain(steps["w1"][20], steps["w1"][0]) > 0},
        {"name": "the return model steers the plan: win rate at w = 1 above w = 0 (20 steps; paired mean diff)",
         "value": gain(weights[1.0], weights[0.0]), "goal": "> 0", "met": gain(weights[1.0], weights[0.0]) > 0},
        {"name": "LPT-EI: win rate at w = 10 above w = 1 (20 steps; paired mean diff)",
         "value": gain(weights[10.0], weights[1.0]), "goal": "> 0", "met": gain(weights[10.0], weights[1.0]) > 0},
    ]
    report = {"benchmark": "Connect Four planning sweeps: Langevin steps and w at y* = +1", "machine": "cpu",
              "seeds": [r["seed"] for r in runs], "episodes": args.episodes, "epochs": args.epochs,
              "eval_games": args.eval, "net": NET, "summary": summary, "paired_tests": tests, "targets": targets,
              "runs": runs, "wall_s": time.time() - t0}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "planning-connect4-cpu.json").write_text(json.dumps(report, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    for i, (w, d) in enumerate(steps.items()):
        m = [np.mean(d[n]) for n in STEPS]
        sd = [np.std(d[n]) for n in STEPS]
        a.errorbar(STEPS, m, yerr=sd, marker="o", capsize=3, color=f"C{i}", label=f"w = {w[1:]}")
    a.set(xlabel="planning Langevin steps (step 0.3)", ylabel="win rate (y* = +1)", ylim=(0, 1.05),
          title=f"steps at test time, {len(runs)} seeds")
    a.legend(fontsize=8)
    xs = np.arange(len(WEIGHTS))
    b.errorbar(xs, [np.mean(weights[w]) for w in WEIGHTS], yerr=[np.std(weights[w]) for w in WEIGHTS],
               marker="o", capsize=3)
    b.set_xticks(xs, [f"{w:g}" for w in WEIGHTS])
    b.set(xlabel="w (Eq. 7)", ylabel="win rate (y* = +1)", ylim=(0, 1.05), title="w at 20 steps")
    fig.tight_layout()
    fig.savefig(OUT / "planning-connect4-cpu.png", dpi=100)
    print(json.dumps({"summary": summary, "targets": targets, "wall_s": report["wall_s"]}, indent=1))


if __name__ == "__main__":
    main()
