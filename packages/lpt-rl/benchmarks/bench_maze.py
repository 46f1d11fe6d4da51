"""PointMaze benchmark (the LPT paper's Tab. 2 maze2d task at CPU scale): LPT (w = 1), LPT-EI
(w = 10), Decision Transformer with the final return only, DT with step rewards (return-to-go)
and behaviour cloning, on the same waypoint-controller data relabelled against the fixed goal
(``maze.py``; the ``[maze]`` extra), paired seeds (the seed sets the data, split and init); and CQL /
IQL from d3rlpy on the same training episodes (an MDPDataset; ``[baselines]`` extra).
Score: D4RL-style normalised return (0 = random actions, 100 = the noise-free controller;
``envs.ENVS``) at the env's y* (the controller's return), from random start cells.

    python packages/lpt-rl/benchmarks/bench_maze.py --seeds 0 --episodes 60 --epochs 4 --eval 10
    # more seeds in pieces (each under 15 minutes on a loaded CPU): --seeds 1 --append, ...
    # add methods to the runs already there (same seeds and settings): --methods cql iql --merge

Writes results/<name>.json (targets computed here) and results/<name>.png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from common import D3RLPY_METHODS, D3RLPY_STEPS, fit_d3rlpy, merge_runs, method_bars

from latent_ebm.core.lightning import ChainConfig
from latent_ebm.core.metrics import paired_comparison
from latent_ebm.core.testing.contract import tiny_trainer
from latent_ebm.lpt_rl import LPTRLDataModule, LPTRLModule, SequenceBCModule
from latent_ebm.lpt_rl.envs import env_spec, normalized_score

OUT = Path(__file__).parent / "results"
METHODS = {"lpt": "LPT (w=1)", "lpt_ei": "LPT-EI (w=10)", "dt_final": "DT final return", "dt_rtg": "DT step rewards",
           "bc": "BC", "cql": "CQL (d3rlpy)", "iql": "IQL (d3rlpy)"}


def net(env: str) -> dict:
    return dict(env=env, d_model=32, n_layers=2, n_heads=2, context=32, n_latent=2, dropout=0.1, test_episodes=0)


def run_seed(args: argparse.Namespace, seed: int, tmp: Path) -> dict:
    t = time.time()
    dm = LPTRLDataModule(env=args.env, n_episodes=args.episodes, batch_size=args.batch, seed=seed)
    dm.setup("fit")
    ret = dm.train_set.ret.numpy()
    spec = env_spec(args.env)
    res: dict = {"seed": seed, "data_s": time.time() - t, "data_return_mean": float(ret.mean()),
                 "data_return_max": float(ret.max()), "data_frac_reaching_goal": float((ret > 0).mean())}
    y = [spec.target_return] * args.eval
    ev = seed * 1000 + 1
    if {"lpt", "lpt_ei"} & set(args.methods):
        torch.manual_seed(seed)
        lpt = LPTRLModule(**net(args.env), prior="unet", unet_base=8, unet_multipliers=(1, 2), return_hidden=(64,),
                          chains=ChainConfig(persistent=True, n_examples=len(dm.train_set)), seed=seed)
        t = time.time()
        tiny_trainer(tmp / f"lpt{seed}", max_epochs=args.epochs, limit_val_batches=0).fit(lpt, dm)
        res["lpt_fit_s"] = time.time() - t
        for w, key in ((1.0, "lpt"), (10.0, "lpt_ei")):
            if key in args.methods:
                lpt.hparams.plan_weight = w
                t = time.time()
                out = lpt.evaluate(args.eval, targets=y, seed=ev)
                res[f"{key}_eval_s"] = time.time() - t
                res[f"{key}_return"], res[f"{key}_score"] = float(out["returns"].mean()), float(out["scores"].mean())
    for key, cond in (("dt_final", "return"), ("dt_rtg", "rtg"), ("bc", "none")):
        if key not in args.methods:
            continue
        torch.manual_seed(seed)
        m = SequenceBCModule(**net(args.env), condition=cond, seed=seed)
        t = time.time()
        tiny_trainer(tmp / f"{key}{seed}", max_epochs=args.epochs, limit_val_batches=0).fit(m, dm)
        res[f"{key}_fit_s"] = time.time() - t
        t = time.time()
        out = m.evaluate(args.eval, targets=y, seed=ev)
        res[f"{key}_eval_s"] = time.time() - t
        res[f"{key}_return"], res[f"{key}_score"] = float(out["returns"].mean()), float(out["scores"].mean())
    for key in D3RLPY_METHODS:
        if key not in args.methods:
            continue
        model, res[f"{key}_fit_s"] = fit_d3rlpy(args.env, key, dm.train_episodes, seed)
        t = time.time()
        ret = model.evaluate(args.eval, seed=ev)["returns"]
        res[f"{key}_eval_s"] = time.time() - t
        res[f"{key}_return"], res[f"{key}_score"] = float(ret.mean()), float(normalized_score(ret, args.env).mean())
    print(json.dumps(res), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", default="maze-medium", choices=["maze-umaze", "maze-medium", "maze-large"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--episodes", type=int, default=60, help="offline episodes per seed (env horizon each)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8, help="episodes per batch")
    ap.add_argument("--eval", type=int, default=10, help="evaluation episodes per method and seed")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--name", default=None, help="default: <env>-cpu")
    ap.add_argument("--append", action="store_true",
                    help="add these seeds to the runs already in results/<name>.json (same settings)")
    ap.add_argument("--merge", action="store_true",
                    help="add these methods to the runs already in results/<name>.json (same seeds, settings)")
    args = ap.parse_args()
    args.name = args.name or f"{args.env}-cpu"
    tmp = Path(f"/tmp/lpt-rl-bench-{args.env}")
    t0 = time.time()
    runs: list[dict] = []
    path = OUT / f"{args.name}.json"
    if args.merge:
        old = json.loads(path.read_text()) if path.is_file() else {"wall_s": 0.0, "methods": []}
        t0 -= old["wall_s"]
        new = [run_seed(args, s, tmp) for s in args.seeds]
        same = {"episodes": args.episodes, "epochs": args.epochs, "batch": args.batch, "eval_episodes": args.eval}
        runs = merge_runs(path, args.seeds, new, same)
        args.methods = [m for m in METHODS if m in old["methods"] or m in args.methods]
        write_report(args, runs, t0)
        return
    if args.append and path.is_file():
        old = json.loads(path.read_text())
        if [old[k] for k in ("episodes", "epochs", "batch", "eval_episodes", "methods")] != \
                [args.episodes, args.epochs, args.batch, args.eval, args.methods]:
            raise SystemExit("error: --append needs the settings of the runs already there")
        runs = [r for r in old["runs"] if r["seed"] not in args.seeds]
        t0 -= old["wall_s"]
    for s in args.seeds:  # the report is rewritten after every seed: a cut-short run keeps what it did
        runs.append(run_seed(args, s, tmp))
        write_report(args, runs, t0)


def write_report(args: argparse.Namespace, runs: list[dict], t0: float) -> None:
    col = lambda k: [r[k] for r in runs]  # noqa: E731
    methods = {m: METHODS[m] for m in args.methods}
    summary = {m: {"score_mean": float(np.mean(col(f"{m}_score"))), "score_std": float(np.std(col(f"{m}_score"))),
                   "return_mean": float(np.mean(col(f"{m}_return")))} for m in methods}
    pairs = [(a, b) for a in ("lpt", "lpt_ei") for b in ("dt_final", "dt_rtg", "bc", "cql", "iql") if a in methods and b in methods]
    tests = {f"{a}_vs_{b}": paired_comparison(col(f"{a}_score"), col(f"{b}_score")) for a, b in pairs} if len(runs) >= 2 else {}
    diff = lambda a, b: float(np.mean(np.subtract(col(f"{a}_score"), col(f"{b}_score"))))  # noqa: E731
    targets = []
    if "lpt" in methods and "dt_final" in methods:
        targets.append({"name": "LPT score above DT-final-return's (paired mean diff; paper maze2d-medium 20.6 vs 8.2)",
                        "value": diff("lpt", "dt_final"), "goal": "> 0", "met": diff("lpt", "dt_final") > 0})
    if "lpt" in methods and "bc" in methods:
        targets.append({"name": "LPT score above BC's (paired mean diff)", "value": diff("lpt", "bc"), "goal": "> 0",
                        "met": diff("lpt", "bc") > 0})
    if "lpt" in methods:
        data_score = float(np.mean([100 * (r["data_return_max"] - env_spec(args.env).ref_min)
                                    / (env_spec(args.env).ref_max - env_spec(args.env).ref_min) for r in runs]))
        targets.append({"name": "LPT score above the best training episode's (stitching)",
                        "value": summary["lpt"]["score_mean"] - data_score, "goal": "> 0",
                        "met": summary["lpt"]["score_mean"] > data_score})
    OUT.mkdir(parents=True, exist_ok=True)
    report = {"benchmark": f"PointMaze {args.env} (fixed goal, waypoint-controller data), normalised score at y*",
              "machine": "cpu", "env": args.env, "target_return": env_spec(args.env).target_return,
              "seeds": [r["seed"] for r in runs], "episodes": args.episodes, "epochs": args.epochs, "batch": args.batch,
              "eval_episodes": args.eval, "methods": args.methods, "net": net(args.env), "d3rlpy_steps": D3RLPY_STEPS,
              "summary": summary,
              "paired_tests": tests, "targets": targets, "runs": runs, "wall_s": time.time() - t0}
    (OUT / f"{args.name}.json").write_text(json.dumps(report, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    method_bars(ax, methods, runs, "score")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("normalised score (0 random, 100 controller)")
    ax.set_title(f"{args.env}, {len(runs)} seeds, {args.episodes} episodes, {args.epochs} epochs, {args.eval} rollouts",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT / f"{args.name}.png", dpi=100)
    print(json.dumps({"summary": summary, "targets": targets, "wall_s": report["wall_s"]}, indent=1))


if __name__ == "__main__":
    main()
