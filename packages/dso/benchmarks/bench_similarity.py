"""Similarity-constrained pLogP improvement (JT-VAE's protocol, reused by LIMO and DSO) at a small
CPU scale: from each of the ``--starts`` lowest-pLogP molecules of the held-out split, improve
pLogP while the design keeps Tanimoto similarity (Morgan radius 2, 2,048 bits) >= delta to it.

Each start molecule runs its own loop (a copy of one LPT, pretrained and fine-tuned on pLogP): the
pool is seeded with the start molecule alone, ranked by the improvement among designs with
similarity >= ``--delta`` (others below, ``loop.SimilarityObjective``), and the design energy
holds the similarity term (lambda/2)|z0 - z0_start|^2 (``ShiftConfig.anchor_weight``; z0_start
inferred by p(z0 | x0, y0)). DSO against its two single-space ablations, paired by start molecule
(same model, same generator seed), ``latent_ebm.core.metrics.paired``. Per start and threshold
(0.4 and 0.6, both read from the same run, which optimises for ``--delta``): the best improvement
of a design with similarity >= delta, floored at 0 (the start molecule itself); success = > 0.

    OMP_NUM_THREADS=1 python packages/dso/benchmarks/bench_similarity.py --cached --pretrain-steps 100 \
        --finetune-steps 20 --limit 20000 --starts 20 --budget 20 --per-round 10 --pool-size 10 --refit-steps 2
(``--cached``: lpt-mol's cached benchmark LPT; without it a small LPT is trained here.)
Writes ``results/similarity-d<delta>-s<starts>-b<budget>-cpu.json`` and ``.png``.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from bench_multi import compare
from bench_pmo import MODEL, machine

from latent_ebm.dso.loop import SimilarityObjective, loop_config, run_dso, similarity_summary
from latent_ebm.dso.run import prepare_model, seed_molecules
from latent_ebm.lpt_mol.data import SelfiesVocab
from latent_ebm.lpt_mol.model import from_target
from latent_ebm.lpt_mol.oracles import Oracle

RESULTS = Path(__file__).parent / "results"
MODES = ("dso", "latent_only", "data_only")
DELTAS = (0.4, 0.6)


def regressor_check(model, dm, n: int = 500) -> dict:
    """How well the LPT's pLogP head predicts held-out pLogP from z0 ~ p(z0 | x) (no y): the
    Spearman and Pearson correlations over the test split. The latent-space step of DSO follows
    this regressor's gradient, so it can only help where this correlation is well above 0. ``n``:
    the first n held-out molecules (the posterior over all of them costs minutes on CPU)."""
    from scipy.stats import pearsonr, spearmanr

    x, y = dm.test_set.x[:n], dm.test_set.y[:n, 0]
    with torch.enable_grad():
        u = model.infer_xy({"x": x}, None, generator=torch.Generator().manual_seed(0)).detach()
    with torch.no_grad():
        model.eval()
        pred = from_target(model.prop(model.prior.transform(u)), model.hparams.properties)[:, 0]
    return {"n": len(y), "spearman": float(spearmanr(pred, y)[0]), "pearson": float(pearsonr(pred, y)[0]),
            "pred_sd": float(pred.std()), "true_sd": float(y.std())}


def cached_lpt(pretrain_steps: int, finetune_steps: int, limit: int):
    """The pLogP LPT that lpt-mol's benchmarks trained and cached (``packages/lpt-mol/benchmarks/
    _shared.py``: width 64, 2 layers, 4 x 16-d latents, ``pretrain_steps`` + ``finetune_steps`` on
    the first ``limit`` ZINC250k molecules), loaded as a :class:`DSOModule`, with the data module
    of the same molecules (its held-out split gives the start molecules)."""
    import inspect

    from latent_ebm.core.data import artifact_dir
    from latent_ebm.dso import DSODataModule, DSOModule

    found = sorted((Path(artifact_dir("lpt_mol")) / "bench").glob(f"finetune-plogp-{pretrain_steps}-{finetune_steps}-*.pt"))
    if not found:
        raise SystemExit(f"no cached lpt-mol model finetune-plogp-{pretrain_steps}-{finetune_steps}-*.pt; run lpt-mol's "
                         "bench_design.py first or drop --cached")
    ck = torch.load(found[0], weights_only=False)
    names = inspect.signature(DSOModule.__init__).parameters.keys() | inspect.signature(
        DSOModule.__mro__[1].__init__).parameters.keys()
    model = DSOModule(**{k: v for k, v in ck["hparams"].items() if k in names})
    model.load_state_dict(ck["state"])
    model.vocab_state = ck["vocab"]
    dm = DSODataModule(dataset="zinc250k", limit=limit, properties=("plogp",), batch_size=64)
    dm.setup("fit")
    if dm.vocab.state_dict() != ck["vocab"]:
        raise SystemExit("the cached model's vocabulary differs from the data module's: give its --limit")
    return model, dm, {"cached": found[0].name, **ck["info"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--starts", type=int, default=5)
    ap.add_argument("--budget", type=int, default=30, help="oracle calls per start molecule")
    ap.add_argument("--delta", type=float, default=0.4, help="the similarity the loop's ranking enforces")
    ap.add_argument("--anchor", type=float, default=1.0, help="lambda of the similarity term in the design energy")
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--pretrain-steps", type=int, default=60)
    ap.add_argument("--finetune-steps", type=int, default=20)
    ap.add_argument("--per-round", type=int, default=10)
    ap.add_argument("--pool-size", type=int, default=10)
    ap.add_argument("--refit-steps", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=1, help="generator seeds per start molecule and mode")
    ap.add_argument("--cached", action="store_true",
                    help="use lpt-mol's cached benchmark LPT (width 64, 2 layers; --pretrain-steps / --finetune-steps "
                         "name it, --limit its ZINC250k slice, 20000) instead of training one here")
    args = ap.parse_args()
    start = time.perf_counter()
    if args.cached:
        model, dm, model_info = cached_lpt(args.pretrain_steps, args.finetune_steps, args.limit)
    else:
        model, dm, model_info = *_train(args), {"model": MODEL}
    train_s = time.perf_counter() - start
    vocab = SelfiesVocab.from_state(model.vocab_state)
    regressor = regressor_check(model, dm)
    print("regressor", regressor, flush=True)
    starts = sorted(seed_molecules(dm), key=lambda t: t[1])[: args.starts]  # the lowest pLogP first
    runs: dict[str, list[dict]] = {m: [] for m in MODES}
    for i, (x0, _) in enumerate(starts):
        for mode in MODES:
            rows = []
            for seed in range(args.seed, args.seed + args.seeds):
                rows.append(one_run(model, vocab, x0, mode, seed, args))
            row = {**rows[0], "seeds": [r["seed"] for r in rows]}
            if len(rows) > 1:  # mean over the generator seeds of this start molecule
                for d in DELTAS:
                    row[f"gain{d}"] = float(np.mean([r[f"gain{d}"] for r in rows]))
                    row[f"success{d}"] = float(np.mean([r[f"gain{d}"] > 0 for r in rows]))
                row["per_seed"] = rows
            runs[mode].append(row)
            print(mode, i, {k: row[k] for k in ("calls", "start_plogp", "gain0.4", "gain0.6", "seconds")}, flush=True)
        write(args, runs, starts[: i + 1], model_info, train_s, regressor, start)


def _train(args):
    settings = {"objective": "plogp", "seed": 0, "data": {"dataset": "zinc250k", "limit": args.limit, "batch_size": 64},
                "model": MODEL, "pretrain_steps": args.pretrain_steps, "finetune_steps": args.finetune_steps}
    return prepare_model(settings)


def one_run(model, vocab, x0: str, mode: str, seed: int, args) -> dict:
    """One loop of ``mode`` from start molecule ``x0`` (a copy of ``model``), generator seed ``seed``."""
    t0 = time.perf_counter()
    objective = SimilarityObjective(x0, args.delta)
    oracle = Oracle(objective, budget=args.budget)
    cfg = loop_config(mode, seeding="pool", per_round=args.per_round, pool_size=args.pool_size, rounds=10**4,
                      refit_steps=args.refit_steps, batch_size=16, shift=0.5, anchor_weight=args.anchor,
                      objectives=objective.objectives)
    torch.manual_seed(seed)
    state = run_dso(copy.deepcopy(model), vocab, oracle, [(objective.start, 0.0)], cfg,
                    generator=torch.Generator().manual_seed(seed))
    summary = similarity_summary(oracle, objective, DELTAS)
    row = {"seed": seed, **summary, "rounds": state.round, "pool_best_by_round": [r["pool_best"] for r in state.log],
           "similarity_of_designs": [objective.measure(s)[1] for _, s, _ in oracle.history],
           "seconds": time.perf_counter() - t0}
    for d in DELTAS:
        row[f"gain{d}"] = max(0.0, summary[f"sim{d}"]["best_gain"] or 0.0)
    return row


def write(args, runs: dict, starts: list, model_info: dict, train_s: float, regressor: dict, start: float) -> None:
    """JSON + PNG of the start molecules done so far (rewritten after every start)."""
    n = len(starts)
    table = {m: {f"sim{d}": {"success_rate": float(np.mean([r.get(f"success{d}", r[f"gain{d}"] > 0) for r in rs])),
                             "mean_gain_of_successes": (float(np.mean(g)) if (g := [r[f"gain{d}"] for r in rs
                                                                                  if r[f"gain{d}"] > 0]) else None),
                             "mean_gain_floored": float(np.mean([r[f"gain{d}"] for r in rs]))}
                 for d in DELTAS} | {"mean_similarity": float(np.mean([np.mean(r["similarity_of_designs"] or [0])
                                                                        for r in rs]))}
             for m, rs in runs.items()}
    targets = []
    for d in DELTAS:
        for other in ("latent_only", "data_only"):
            c = compare(runs, "dso", other, f"gain{d}") if n >= 2 else {"mean_diff": float("nan")}
            targets.append({"name": f"DSO best improvement at similarity >= {d} above {other}, paired over "
                                    f"{n} start molecules (mean difference; core paired_comparison)",
                            "value": c["mean_diff"], "goal": "> 0", "met": bool(c["mean_diff"] > 0), **c})
    name = f"similarity-d{args.delta}-s{args.starts}-b{args.budget}-{machine()}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine(), "host": platform.processor() or platform.machine(),
               "torch_threads": torch.get_num_threads(), "args": vars(args), "model": model_info,
               "model_setup_s": train_s, "regressor_heldout": regressor, "starts": starts, "starts_done": n,
               "table": table, "targets": targets, "runs": runs, "seconds": time.perf_counter() - start}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2))
    plot(RESULTS / f"{name}.png", runs)
    print(json.dumps({"table": table, "targets": [(t["name"], t["value"]) for t in targets]}), flush=True)


def plot(path: Path, runs: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    x = np.arange(len(next(iter(runs.values()))))
    for j, (mode, rs) in enumerate(runs.items()):
        for k, d in enumerate(DELTAS):
            a.bar(x + 0.13 * (2 * j + k) - 0.4, [r[f"gain{d}"] for r in rs], width=0.12,
                  label=f"{mode}, sim >= {d}", alpha=1.0 if k == 0 else 0.5, color=f"C{j}")
        sims = [s for r in rs for s in r["similarity_of_designs"]]
        b.hist(sims, bins=20, range=(0, 1), histtype="step", label=mode, color=f"C{j}")
    a.set(xlabel="start molecule (lowest pLogP first)", ylabel="best pLogP improvement (floored at 0)",
          title="constrained improvement per start")
    b.set(xlabel="Tanimoto similarity to the start", ylabel="designs", title="similarity of all scored designs")
    a.legend(fontsize=7)
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
