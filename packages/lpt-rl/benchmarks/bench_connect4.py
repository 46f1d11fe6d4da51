"""Connect Four benchmark (the LPT paper's Tab. 4 task at CPU scale): win rate against ESPER's
stochastic opponent (``connect4.py``) of LPT (w = 1), LPT-EI (w = 10), the final-return conditioned
policy (Decision Transformer's final-return setting on the same network) and behaviour cloning,
all trained on the same offline data (ESPER's 50/50 mixture of an exploiting and a searching
policy), paired seeds (the seed sets the data, the split and the initialisation); and, from
d3rlpy on the same training games (an MDPDataset; ``[baselines]`` extra), DiscreteCQL (moves are
columns) and IQL (continuous only: it acts on the ``2 onehot - 1`` encoding the sequence models use).

    python packages/lpt-rl/benchmarks/bench_connect4.py --seeds 0 1 2 --episodes 400 --epochs 30
    # the same in pieces (each under 15 minutes on a loaded CPU): --seeds 0, then --seeds 1 --append
    # add methods to the runs already there (same seeds and settings): --methods cql iql --merge

Writes results/connect4-cpu.json (targets computed here) and results/connect4-cpu.png.
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
from latent_ebm.lpt_rl.data import split_episodes

OUT = Path(__file__).parent / "results"
METHODS = {"lpt": "LPT (w=1)", "lpt_ei": "LPT-EI (w=10)", "dt_final": "DT final return", "bc": "BC",
           "cql": "DiscreteCQL", "iql": "IQL (onehot)"}
NET = dict(env="connect4", d_model=32, n_layers=2, n_heads=2, context=42, n_latent=2, dropout=0.1, test_episodes=0)


def fit_lpt(dm: LPTRLDataModule, seed: int, epochs: int, tmp: Path) -> tuple[LPTRLModule, float]:
    """The benchmark's LPT (``NET``, UNet prior (8; 1, 2), persistent chains) fitted on ``dm``;
    (model, fit seconds)."""
    torch.manual_seed(seed)
    lpt = LPTRLModule(**NET, prior="unet", unet_base=8, unet_multipliers=(1, 2), return_hidden=(64,),
                      chains=ChainConfig(persistent=True, n_examples=len(dm.train_set)), seed=seed)
    t = time.time()
    tiny_trainer(tmp / f"lpt{seed}", max_epochs=epochs, limit_val_batches=0).fit(lpt, dm)
    return lpt, time.time() - t


def run_seed(seed: int, n_data: int, epochs: int, n_eval: int, tmp: Path, methods: list[str]) -> dict:
    dm = LPTRLDataModule(env="connect4", n_episodes=n_data, batch_size=32, seed=seed)
    dm.setup("fit")
    eps = split_episodes(dm.load())
    outcome = np.array([e["rewards"][-1] for e in eps])
    res: dict = {"seed": seed, "data_win_rate_specialised": float((outcome[0::2] > 0).mean()),
                 "data_win_rate_searching": float((outcome[1::2] > 0).mean()),
                 "data_win_rate": float((outcome > 0).mean())}
    for key in D3RLPY_METHODS:
        if key in methods:  # d3rlpy on the same training games
            model, res[f"{key}_fit_s"] = fit_d3rlpy("connect4", key, dm.train_episodes, seed)
            out = model.evaluate(n_eval, seed=seed * 1000 + 1)
            res[f"{key}_win_rate"], res[f"{key}_return"] = out["win_rate"], float(out["returns"].mean())
    if "lpt" not in methods:
        print(json.dumps(res), flush=True)
        return res
    lpt, res["lpt_fit_s"] = fit_lpt(dm, seed, epochs, tmp)
    for w, key in ((1.0, "lpt"), (10.0, "lpt_ei")):
        lpt.hparams.plan_weight = w
        out = lpt.evaluate(n_eval, targets=[1.0] * n_eval, seed=seed * 1000 + 1)
        res[f"{key}_win_rate"], res[f"{key}_return"] = out["win_rate"], float(out["returns"].mean())
    for cond, key in (("return", "dt_final"), ("none", "bc")):
        if key not in methods:
            continue
        torch.manual_seed(seed)
        m = SequenceBCModule(**NET, condition=cond, seed=seed)
        t = time.time()
        tiny_trainer(tmp / f"{key}{seed}", max_epochs=epochs, limit_val_batches=0).fit(m, dm)
        res[f"{key}_fit_s"] = time.time() - t
        out = m.evaluate(n_eval, targets=[1.0] * n_eval, seed=seed * 1000 + 1)
        res[f"{key}_win_rate"], res[f"{key}_return"] = out["win_rate"], float(out["returns"].mean())
    print(json.dumps(res), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--episodes", type=int, default=400, help="offline games per seed")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--eval", type=int, default=50, help="evaluation games per method and seed")
    ap.add_argument("--name", default="connect4-cpu")
    ap.add_argument("--append", action="store_true",
                    help="add these seeds to the runs already in results/<name>.json (same settings)")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS),
                    help="lpt fits one model for lpt and lpt_ei")
    ap.add_argument("--merge", action="store_true",
                    help="add these methods to the runs already in results/<name>.json (same seeds, settings)")
    args = ap.parse_args()
    if "lpt_ei" in args.methods and "lpt" not in args.methods:
        args.methods.append("lpt")
    tmp = Path("/tmp/lpt-rl-bench-connect4")
    t0 = time.time()
    runs: list[dict] = []
    if args.merge:
        path = OUT / f"{args.name}.json"
        same = {"episodes": args.episodes, "epochs": args.epochs, "eval_games": args.eval}
        t0 -= json.loads(path.read_text())["wall_s"] if path.is_file() else 0.0
        new = [run_seed(s, args.episodes, args.epochs, args.eval, tmp, args.methods) for s in args.seeds]
        write_report(args, merge_runs(path, args.seeds, new, same), t0)
        return
    if args.append and (OUT / f"{args.name}.json").is_file():
        old = json.loads((OUT / f"{args.name}.json").read_text())
        if (old["episodes"], old["epochs"], old["eval_games"]) != (args.episodes, args.epochs, args.eval):
            raise SystemExit("error: --append needs the settings of the runs already there")
        runs = [r for r in old["runs"] if r["seed"] not in args.seeds]
        t0 -= old["wall_s"]
    for s in args.seeds:  # the report is rewritten after every seed: a cut-short run keeps what it did
        runs.append(run_seed(s, args.episodes, args.epochs, args.eval, tmp, args.methods))
        write_report(args, runs, t0)


def write_report(args: argparse.Namespace, runs: list[dict], t0: float) -> None:
    col = lambda k: [r[k] for r in runs]  # noqa: E731
    methods = {m: label for m, label in METHODS.items() if f"{m}_win_rate" in runs[0]}
    summary = {m: {"win_rate_mean": float(np.mean(col(f"{m}_win_rate"))), "win_rate_std": float(np.std(col(f"{m}_win_rate"))),
                   "return_mean": float(np.mean(col(f"{m}_return")))} for m in methods}
    tests = {}
    if len(runs) >= 2:
        tests = {f"{a}_vs_{b}": paired_comparison(col(f"{a}_win_rate"), col(f"{b}_win_rate"))
                 for a in ("lpt", "lpt_ei") for b in ("dt_final", "bc", "cql", "iql") if a in methods and b in methods}
    diff = lambda a, b: float(np.mean(np.subtract(col(f"{a}_win_rate"), col(f"{b}_win_rate"))))  # noqa: E731
    targets = [
        {"name": "LPT win rate above DT-final-return's (paired mean diff; paper 0.99 vs 0.8)",
         "value": diff("lpt", "dt_final"), "goal": "> 0", "met": diff("lpt", "dt_final") > 0},
        {"name": "LPT win rate above BC's (paired mean diff)", "value": diff("lpt", "bc"), "goal": "> 0",
         "met": diff("lpt", "bc") > 0},
        {"name": "LPT win rate above the offline data's", "value": summary["lpt"]["win_rate_mean"] - float(np.mean(col("data_win_rate"))),
         "goal": "> 0", "met": summary["lpt"]["win_rate_mean"] > float(np.mean(col("data_win_rate")))},
        {"name": "LPT win rate (paper 0.99 +- 0.01 against ESPER's solver opponent)", "value": summary["lpt"]["win_rate_mean"],
         "goal": ">= 0.9", "met": summary["lpt"]["win_rate_mean"] >= 0.9},
    ]
    for m in ("cql", "iql"):
        if m in methods:  # the paper's Tab. 1: CQL with the final return only is far below LPT
            targets.append({"name": f"LPT win rate above {methods[m]}'s (paired mean diff)", "value": diff("lpt", m),
                            "goal": "> 0", "met": diff("lpt", m) > 0})
    OUT.mkdir(parents=True, exist_ok=True)
    report = {"benchmark": "Connect Four vs ESPER-style stochastic 2-ply negamax opponent, win rate at y*=+1",
              "machine": "cpu", "seeds": [r["seed"] for r in runs], "episodes": args.episodes, "epochs": args.epochs,
              "eval_games": args.eval, "net": NET, "d3rlpy_steps": D3RLPY_STEPS, "summary": summary,
              "data_win_rate": {"mixture": float(np.mean(col("data_win_rate"))),
                                "specialised": float(np.mean(col("data_win_rate_specialised"))),
                                "searching": float(np.mean(col("data_win_rate_searching")))},
              "paired_tests": tests, "targets": targets, "runs": runs, "wall_s": time.time() - t0}
    (OUT / f"{args.name}.json").write_text(json.dumps(report, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    method_bars(ax, methods, runs, "win_rate")
    ax.axhline(report["data_win_rate"]["mixture"], color="C3", ls="--", lw=1, label="offline data")
    ax.axhline(report["data_win_rate"]["searching"], color="C2", ls=":", lw=1, label="searching policy in data")
    ax.set_ylabel("win rate (y* = +1)")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Connect Four, {len(runs)} seeds, {args.epochs} epochs, {args.eval} games each")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(OUT / f"{args.name}.png", dpi=100)
    print(json.dumps({"summary": summary, "targets": targets, "wall_s": report["wall_s"]}, indent=1))


if __name__ == "__main__":
    main()
