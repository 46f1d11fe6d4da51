"""Chain MDP benchmark: LPT (w = 1), LPT-EI (w = 10), a final-return-conditioned policy (DT-like)
and behaviour cloning, same network, same data, paired seeds; and CQL / IQL from d3rlpy on the
same training episodes (an MDPDataset; ``[baselines]`` extra; not return-conditioned: one policy,
scored at both targets). The data mixes two openings (a_0 > 0: return 1; a_0 < 0: return 0);
asked for y* = 1, a policy should open positive.
Also: planning steps (0, 5, 20, 50) against return, and y* = 0 (does it obey a low target?).

    python packages/lpt-rl/benchmarks/bench_chain.py --seeds 0 1 2 --epochs 60
    # add methods to the runs already there (same seeds and settings):
    python packages/lpt-rl/benchmarks/bench_chain.py --seeds 0 1 2 --epochs 60 --methods cql iql --merge

Writes results/chain-cpu.json (targets computed here) and results/chain-cpu.png.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from common import D3RLPY_METHODS, D3RLPY_STEPS, fit_d3rlpy, merge_runs

from latent_ebm.core.lightning import ChainConfig
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing.contract import tiny_trainer
from latent_ebm.lpt_rl import LPTRLDataModule, LPTRLModule, SequenceBCModule

OUT = Path(__file__).parent / "results"
METHODS = {"lpt": "LPT", "lpt_ei": "LPT-EI", "dt_final": "DT-final", "bc": "BC", "cql": "CQL", "iql": "IQL"}
NET = dict(env="chain", d_model=16, n_layers=1, n_heads=2, context=8, dropout=0.0, test_episodes=0)


def paired_t(a: list[float], b: list[float]) -> dict:
    d = np.asarray(a) - np.asarray(b)
    n = len(d)
    sd = d.std(ddof=1) if n > 1 else float("nan")
    t = float(d.mean() / (sd / math.sqrt(n))) if sd > 0 else (math.inf if d.mean() > 0 else -math.inf if d.mean() < 0 else 0.0)
    try:
        from scipy import stats

        p = float(stats.t.sf(abs(t), n - 1) * 2) if math.isfinite(t) else 0.0
    except ImportError:
        p = None
    return {"mean_diff": float(d.mean()), "t": t, "p_two_sided": p, "n": n}


def run_seed(seed: int, epochs: int, episodes: int, tmp: Path, methods: list[str]) -> dict:
    torch.manual_seed(seed)
    dm = LPTRLDataModule(env="chain", n_episodes=128, batch_size=32, seed=seed)
    dm.setup("fit")
    res: dict = {}
    for key in D3RLPY_METHODS:
        if key in methods:  # d3rlpy on the same training episodes; y* plays no part
            model, res[f"{key}_fit_s"] = fit_d3rlpy("chain", key, dm.train_episodes, seed)
            ret = float(model.evaluate(episodes, seed=seed * 1000 + 1)["returns"].mean())
            res[f"{key}_high"] = res[f"{key}_low"] = ret
            res[f"{key}_a0"] = float(model.act(np.zeros((1, 2), np.float32))[0, 0])
    if "lpt" not in methods:
        return res
    lpt = LPTRLModule(**NET, prior="unet", n_latent=2, unet_base=8, unet_multipliers=(1, 2), return_hidden=(32,),
                      return_dropout=0.0, chains=ChainConfig(persistent=True, n_examples=len(dm.train_set)), seed=seed)
    t = time.time()
    tiny_trainer(tmp / f"lpt{seed}", max_epochs=epochs, limit_val_batches=0).fit(lpt, dm)
    res["lpt_fit_s"] = time.time() - t
    for w in (1.0, 10.0):
        lpt.hparams.plan_weight = w
        key = "lpt" if w == 1.0 else "lpt_ei"
        res[f"{key}_high"] = float(lpt.evaluate(episodes, targets=[1.0] * episodes, seed=seed * 1000 + 1)["returns"].mean())
        res[f"{key}_low"] = float(lpt.evaluate(episodes, targets=[0.0] * episodes, seed=seed * 1000 + 2)["returns"].mean())
    lpt.hparams.plan_weight = 10.0
    for steps in (0, 5, 20, 50):
        out = lpt.evaluate(episodes, targets=[1.0] * episodes, seed=seed * 1000 + 3, plan=LangevinSchedule(steps, 0.3))
        res[f"lpt_ei_steps{steps}"] = float(out["returns"].mean())
    for cond, key in (("return", "dt_final"), ("none", "bc")):
        if key not in methods:
            continue
        torch.manual_seed(seed)
        m = SequenceBCModule(**NET, condition=cond, n_latent=2, seed=seed)
        t = time.time()
        tiny_trainer(tmp / f"{key}{seed}", max_epochs=epochs, limit_val_batches=0).fit(m, dm)
        res[f"{key}_fit_s"] = time.time() - t
        res[f"{key}_high"] = float(m.evaluate(episodes, targets=[1.0] * episodes, seed=seed * 1000 + 1)["returns"].mean())
        res[f"{key}_low"] = float(m.evaluate(episodes, targets=[0.0] * episodes, seed=seed * 1000 + 2)["returns"].mean())
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--episodes", type=int, default=32)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS),
                    help="lpt fits one model for lpt and lpt_ei (and the planning-steps sweep)")
    ap.add_argument("--merge", action="store_true",
                    help="add these methods to the runs already in results/chain-cpu.json (same seeds, settings)")
    args = ap.parse_args()
    if "lpt_ei" in args.methods and "lpt" not in args.methods:
        args.methods.append("lpt")
    tmp = Path("/tmp/lpt-rl-bench-chain")
    runs = [run_seed(s, args.epochs, args.episodes, tmp, args.methods) for s in args.seeds]
    if args.merge:
        runs = merge_runs(OUT / "chain-cpu.json", args.seeds, runs, {"epochs": args.epochs, "episodes": args.episodes})
    col = lambda k: [r[k] for r in runs]  # noqa: E731
    methods = [m for m in METHODS if f"{m}_high" in runs[0]]
    summary = {m: {"high_mean": float(np.mean(col(f"{m}_high"))), "low_mean": float(np.mean(col(f"{m}_low")))} for m in methods}
    pairs = [("lpt_ei", "bc"), ("lpt", "bc"), ("lpt_ei", "dt_final"), ("lpt", "cql"), ("lpt_ei", "cql"), ("lpt", "iql"),
             ("lpt_ei", "iql")]
    tests = {f"{a}_vs_{b}": paired_t(col(f"{a}_high"), col(f"{b}_high")) for a, b in pairs if a in methods and b in methods}
    targets = [
        {"name": "LPT-EI return at y*=1 above BC's (paired mean diff)", "value": tests["lpt_ei_vs_bc"]["mean_diff"],
         "goal": "> 0", "met": tests["lpt_ei_vs_bc"]["mean_diff"] > 0},
        {"name": "LPT-EI obeys y*: return(y*=1) - return(y*=0)",
         "value": summary["lpt_ei"]["high_mean"] - summary["lpt_ei"]["low_mean"], "goal": "> 0.5",
         "met": summary["lpt_ei"]["high_mean"] - summary["lpt_ei"]["low_mean"] > 0.5},
        {"name": "LPT (w=1) return at y*=1 above BC's", "value": tests["lpt_vs_bc"]["mean_diff"], "goal": "> 0",
         "met": tests["lpt_vs_bc"]["mean_diff"] > 0},
    ]
    for m in ("cql", "iql"):
        if m in methods:  # the known answer: the better opening pays 1
            targets.append({"name": f"{m.upper()} (d3rlpy) learns the better opening: return", "value": summary[m]["high_mean"],
                            "goal": ">= 0.9", "met": summary[m]["high_mean"] >= 0.9})
            targets.append({"name": f"LPT-EI return at y*=1 at least {m.upper()}'s (paired mean diff)",
                            "value": tests[f"lpt_ei_vs_{m}"]["mean_diff"], "goal": ">= 0",
                            "met": tests[f"lpt_ei_vs_{m}"]["mean_diff"] >= 0})
    OUT.mkdir(parents=True, exist_ok=True)
    report = {"benchmark": "chain MDP, y*=1 and y*=0", "machine": "cpu", "seeds": args.seeds, "epochs": args.epochs,
              "episodes": args.episodes, "d3rlpy_steps": D3RLPY_STEPS, "summary": summary, "paired_tests": tests, "targets": targets, "runs": runs,
              "plan_steps": {str(s): float(np.mean(col(f"lpt_ei_steps{s}"))) for s in (0, 5, 20, 50)}}
    (OUT / "chain-cpu.json").write_text(json.dumps(report, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    x = np.arange(len(methods))
    for i, (k, lab) in enumerate((("high", "y*=1"), ("low", "y*=0"))):
        vals = [col(f"{m}_{k}") for m in methods]
        axes[0].bar(x + (i - 0.5) * 0.35, [np.mean(v) for v in vals], 0.35, yerr=[np.std(v) for v in vals], label=lab)
    axes[0].set_xticks(x, [METHODS[m] for m in methods], fontsize=8)
    axes[0].set_ylabel("return (chain)")
    axes[0].legend()
    steps = (0, 5, 20, 50)
    axes[1].plot(steps, [report["plan_steps"][str(s)] for s in steps], "o-")
    axes[1].set_xlabel("planning Langevin steps (LPT-EI, y*=1)")
    axes[1].set_ylabel("return")
    fig.tight_layout()
    fig.savefig(OUT / "chain-cpu.png", dpi=100)
    print(json.dumps({"summary": summary, "targets": targets, "plan_steps": report["plan_steps"]}, indent=1))


if __name__ == "__main__":
    main()
