"""Single-objective design under a fixed oracle budget: LPT (gradual distribution shifting) vs
graph GA vs random sampling of ZINC, for QED and penalised logP, 3 seeds in one run.

Every method gets the same offline data, the first 20k ZINC250k molecules with their property
values (preloaded into the oracle's cache, so they cost nothing), and the same budget of new
oracle calls. LPT is pretrained on that set, fine-tuned on (x, y) per property, then shifts as the
released LPT / DSO online loop does: chains start at the latents of the best pool molecules and
move toward each one's value + shift, the designs are scored, the top pool is kept with its
latents, and the model refits for one pass over it. The GA starts from the set's best 100;
random scores unseen ZINC molecules. Every method proposes only molecules whose rings all have 5
or 6 atoms (the released loop's filter, ``filters.ring_sizes_ok``; applied to the baselines too,
so all search one space; ``--ring-sizes none`` turns it off); a rejected proposal costs no call.
Reported over the new calls only (PMO-style): top-1/2/3,
mean of the top-50, top-10 AUC (``metrics.top_k_auc``), and the running top-10 curve; the JSON's
``targets`` compare LPT's top-10 AUC with each baseline's, paired by seed
(``latent_ebm.core.metrics.paired``).

The PMO protocol (Gao et al. 2022; the NeurIPS version of the LPT paper reports it for QED and
pLogP at 10k calls): ``--seeding first_party --rounds 25 --budget B`` (the released loop's seeding
and its 25 rounds, B / 25 designs a round), the top-10 AUC as the headline, top-1 / top-50 beside it.

    OMP_NUM_THREADS=1 python benchmarks/bench_design.py [--properties qed,plogp] [--budget 2000] [--seeds 3]
        [--ring-sizes 5,6] [--top-k 50] [--temperature 1.0] [--workers 2] [--methods lpt] [--only-seeds 1]
        [--seeding first_party] [--rounds 25] [--pretrain-steps 2400]
Writes ``results/design-<property>[-first-party][-b<budget>][-pre<steps>][-ft<steps>]-<machine>.json`` and
``.png`` per property (so the properties can run as parallel processes once
``bench_unconditional.py`` has cached the pretrained model). ``--methods`` / ``--only-seeds``
run part of the (method, seed) grid and take the other runs from the existing file of the same
settings, so a long grid can run as several short processes.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from _shared import MODEL, N_LABELLED, finetuned, labelled_data, png, result_path, write

from latent_ebm.core.checks import check_int, require
from latent_ebm.core.metrics import paired_comparison
from latent_ebm.lpt_mol import shift as shift_module
from latent_ebm.lpt_mol.data import SelfiesVocab, load_smiles
from latent_ebm.lpt_mol.filters import ring_sizes_ok
from latent_ebm.lpt_mol.ga import graph_ga, random_baseline
from latent_ebm.lpt_mol.metrics import running_top_k, top_k_auc
from latent_ebm.lpt_mol.oracles import Oracle
from latent_ebm.lpt_mol.shift import ShiftConfig, ShiftState, run_shifting

METHODS = ("lpt", "graph-ga", "random")
SHIFT = {"qed": 0.1, "plogp": 0.5}  # a chain's target = its start molecule's value + shift (raw units; LPT code: +0.1)


def _oracle(prop: str, budget: int, known: dict[str, float]) -> Oracle:
    oracle = Oracle(prop, budget=budget)
    oracle.cache.update(known)  # the offline set is given: re-proposing it costs no call
    return oracle


def ring_sizes_arg(text: str) -> tuple[int, ...] | None:
    """``--ring-sizes``: comma-separated ring sizes, or 'none' (no filter)."""
    return None if text == "none" else tuple(int(k) for k in text.split(","))


def shift_config(prop: str, args, rounds: int = 10**6) -> ShiftConfig:
    """The shifting loop every LPT run here uses, from the command line's loop and decoding settings."""
    return ShiftConfig(rounds=rounds, per_round=args.per_round, shift=SHIFT[prop], pool_size=2000,
                       refit_steps=args.refit_steps, batch_size=64, ring_sizes=args.ring_sizes,
                       top_k=args.top_k, temperature=args.temperature, seeding=args.seeding)


def run_method(method: str, prop: str, seed: int, budget: int, known: dict[str, float], args
               ) -> tuple[Oracle, dict]:
    """Run one method; returns its oracle and what else the run reports."""
    oracle = _oracle(prop, budget, known)
    top = sorted(known.items(), key=lambda t: -t[1])
    keep = None if args.ring_sizes is None else (lambda s: ring_sizes_ok(s, args.ring_sizes))
    if method == "random":
        random_baseline(oracle, load_smiles("zinc250k"), seed=seed, keep=keep)
    elif method == "graph-ga":
        start = [s for s, _ in top if keep is None or keep(s)][:100]
        graph_ga(oracle, start, population=100, offspring=100, seed=seed, keep=keep)
    else:
        model, _ = finetuned(args.dm, prop, args.pretrain_steps, args.finetune_steps)
        model = copy.deepcopy(model)
        vocab = SelfiesVocab.from_state(model.vocab_state)
        cfg = shift_config(prop, args)
        if args.seeding == "first_party":  # the released loop (LPT 11): round-0 targets from the test split
            test = [args.dm.smiles[int(i)] for i in args.dm.test_idx]
            state = ShiftState(pool=[(s, known[s]) for s in test if s in known])
        else:  # the best offline molecules form the pool and stay; latents inferred by the model
            state = ShiftState(pool=top[:2000])
        torch.manual_seed(seed)
        refit_s = _timed_refits()
        try:
            run_shifting(model, vocab, oracle, state, cfg, generator=torch.Generator().manual_seed(seed))
        finally:
            shift_module.refit = refit_s.pop("refit")
        return oracle, {"ring_filter_rejected": state.rejected, "rounds": state.round, "refit_s": refit_s["s"],
                        "pool_best_by_round": [r["pool_best"] for r in state.log],
                        "round_mean_by_round": [r["round_mean"] for r in state.log]}
    return oracle, {}


def _timed_refits() -> dict:
    """Wrap ``shift.refit`` so the run adds up the seconds its refits take (the rest of an LPT
    run is design, decoding and scoring); returns {"s": seconds, "refit": the original}."""
    box = {"s": 0.0, "refit": shift_module.refit}

    def timed(*a, **k):
        t0 = time.perf_counter()
        try:
            return box["refit"](*a, **k)
        finally:
            box["s"] += time.perf_counter() - t0

    shift_module.refit = timed
    return box


_SHARED: dict = {}  # (known values, args) of the property being run: set before the workers fork


def _run_job(job: tuple[str, str, int]) -> tuple[dict, float]:
    """One (method, property, seed) run, summarised: what a worker process sends back."""
    method, prop, seed = job
    known, args = _SHARED["known"], _SHARED["args"]
    start = time.perf_counter()
    oracle, extra = run_method(method, prop, seed, args.budget, known, args)
    return {"seed": seed, **summarise(oracle, args.budget), **extra}, time.perf_counter() - start


def _run_all(jobs: list[tuple[str, str, int]], workers: int):
    """Yield each job's result in order. Runs are independent (own oracle, own copy of the model,
    seeded): ``workers`` > 1 runs them side by side in processes forked so they share the loaded
    data and the cached model; 1 runs them one after another here."""
    if workers == 1:
        yield from map(_run_job, jobs)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(_run_job, jobs)


def summarise(oracle: Oracle, budget: int) -> dict:
    scores = [v for _, _, v in oracle.history]
    best = sorted(scores, reverse=True)
    return {"calls": oracle.calls, "invalid": oracle.invalid, "failures": oracle.failures,
            "top1": best[0] if best else None, "top2": best[1] if len(best) > 1 else None,
            "top3": best[2] if len(best) > 2 else None,
            "top50_mean": float(np.mean(best[:50])) if best else None,
            "top10_auc": top_k_auc(scores, k=10, budget=budget),
            "best_smiles": [s for s, _ in oracle.top_k(3)],
            "curve_top10": running_top_k(scores, 10)[99::100].tolist() if scores else []}


def result_name(prop: str, args) -> str:
    """``design-<property>``, with the decoding settings appended when they are not the released
    loop's, ``-first-party`` for that seeding, the budget when not 2,000, the pretraining steps
    when not 2,400 and the fine-tuning steps when not 60 (the README's first rows keep their names)."""
    default = (args.top_k, args.temperature) == (50, 1.0)
    seeding = "" if getattr(args, "seeding", "pool") == "pool" else "-first-party"
    budget = "" if getattr(args, "budget", 2000) == 2000 else f"-b{args.budget}"
    pre = "" if getattr(args, "pretrain_steps", 2400) == 2400 else f"-pre{args.pretrain_steps}"
    pre += "" if getattr(args, "finetune_steps", 60) == 60 else f"-ft{args.finetune_steps}"
    return f"design-{prop}" + ("" if default else f"-k{args.top_k}-t{args.temperature:g}") + seeding + budget + pre


def paired_targets(results: dict[str, list[dict]]) -> list[dict]:
    """LPT's top-10 AUC against each baseline's, seed by seed (core ``paired_comparison`` of
    baseline - LPT, so its ``wins`` count the seeds where LPT is higher); met when LPT is higher
    on every shared seed. With fewer than 5 seeds the sign test cannot reach p < 0.05, so the
    core's ``verdict`` stays "unresolved" whatever the gap: it is reported beside ``met``."""
    lpt = {r.get("seed", i): r["top10_auc"] for i, r in enumerate(results.get("lpt", []))}
    targets = []
    for other in ("random", "graph-ga"):
        theirs = {r.get("seed", i): r["top10_auc"] for i, r in enumerate(results.get(other, []))}
        seeds = sorted(lpt.keys() & theirs.keys())
        name = f"LPT top-10 AUC above {other} on every paired seed"
        if len(seeds) < 2:
            targets.append({"name": name, "value": None, "goal": "> 0 on each of >= 2 paired seeds", "met": False,
                            "note": f"{len(seeds)} paired seed(s): not compared"})
            continue
        c = paired_comparison([theirs[s] for s in seeds], [lpt[s] for s in seeds])
        diffs = [lpt[s] - theirs[s] for s in seeds]
        targets.append({"name": name, "value": -c["mean_diff"], "goal": f"> 0 on each of {len(seeds)} seeds",
                        "met": all(d > 0 for d in diffs), "seeds": seeds, "lpt_minus_baseline": diffs,
                        "lpt_higher_seeds": c["wins"], "ci95_lpt_minus_baseline": [-c["ci95"][1], -c["ci95"][0]],
                        "sign_test_p": c["sign_test_p"],
                        "core_verdict_baseline_vs_lpt": c["verdict"]})
    return targets


def plot(name: str, prop: str, by_method: dict, budget: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for method, runs in by_method.items():
        curves = [r["curve_top10"] for r in runs if r["curve_top10"]]
        n = min(len(c) for c in curves)
        c = np.array([cv[:n] for cv in curves])
        x = 100 * np.arange(1, n + 1)
        ax.plot(x, c.mean(0), label=method)
        ax.fill_between(x, c.min(0), c.max(0), alpha=0.2)
    ax.set(title=f"{prop}: mean of the top-10 over oracle calls (band: min-max over seeds)",
           xlabel="new oracle calls", ylabel=prop, xlim=(0, budget))
    ax.title.set_fontsize(9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png(name), dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--properties", default="qed,plogp")
    ap.add_argument("--pretrain-steps", type=int, default=2400)
    ap.add_argument("--finetune-steps", type=int, default=60)
    ap.add_argument("--per-round", type=int, default=80, help="80: 25 rounds at the default budget, as the released loop runs")
    ap.add_argument("--rounds", type=int, default=None,
                    help="rounds to spread the budget over (sets --per-round to ceil(budget / rounds); released loop: 25)")
    ap.add_argument("--refit-steps", type=int, default=None, help="default: one pass over the pool a round")
    ap.add_argument("--top-k", type=int, default=50, help="LPT decoding (released loop: 50)")
    ap.add_argument("--temperature", type=float, default=1.0,
                    help="LPT decoding (released loop: 1); other settings write design-<property>-k<k>-t<T>")
    ap.add_argument("--ring-sizes", type=ring_sizes_arg, default=(5, 6),
                    help="ring sizes a proposal may have (released loop: 5,6); 'none' turns the filter off")
    ap.add_argument("--seeding", choices=("pool", "first_party"), default="pool",
                    help="pool: the best 2,000 offline molecules seed the pool and stay (this README's rows); "
                         "first_party: the released loop's (ShiftConfig.seeding; the paper preset, "
                         "FIRST_PARTY_SHIFTING): round-0 targets from the test split, random latents, "
                         "the pool of the loop's own designs; writes design-<property>-first-party")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes running the (method, seed) runs side by side (one core each)")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="methods to run; the others' runs are kept from the existing results file "
                         "(same settings), marked in its 'reused' entry")
    ap.add_argument("--only-seeds", default=None,
                    help="comma-separated seeds (< --seeds) to run now; the others' runs are kept from the "
                         "existing results file of the same settings")
    args = ap.parse_args()
    check_int("--workers", args.workers, low=1)
    check_int("--budget", args.budget, low=1)
    if args.rounds is not None:
        check_int("--rounds", args.rounds, low=1)
        args.per_round = math.ceil(args.budget / args.rounds)
    methods = args.methods.split(",")
    require("--methods", args.methods, set(methods) <= set(METHODS), f"each must be one of {METHODS}")
    run_seeds = list(range(args.seeds)) if args.only_seeds is None else [int(k) for k in args.only_seeds.split(",")]
    require("--only-seeds", args.only_seeds, all(0 <= k < args.seeds for k in run_seeds),
            f"each must be a seed in 0..{args.seeds - 1}")
    args.dm = labelled_data()
    for prop in args.properties.split(","):
        column = args.dm.hparams.properties.index(prop)
        known = {s: float(y[column]) for s, y in zip(args.dm.smiles, _all_y(args.dm))}
        jobs = [(method, prop, seed) for method in methods for seed in run_seeds]
        results, timings, reused, missing = _reuse(prop, {(m, s) for m, _, s in jobs}, args)
        if "lpt" in methods:
            finetuned(args.dm, prop, args.pretrain_steps, args.finetune_steps)  # cached before any worker starts
        _SHARED.update(known=known, args=args)
        for (method, _, seed), (r, seconds) in zip(jobs, _run_all(jobs, args.workers)):
            timings[f"{method}/{seed}"] = seconds
            results[method][seed] = r
            reused.pop(f"{method}/{seed}", None)
            print(f"{prop} {method} seed {seed}: top1 {r['top1']:.3f} top50 {r['top50_mean']:.3f} "
                  f"auc10 {r['top10_auc']:.3f} ({seconds:.0f} s)", flush=True)
        results = {m: [runs[s] for s in sorted(runs)] for m, runs in results.items() if runs}
        table = {m: {k: [float(np.mean([r[k] for r in runs])), float(np.std([r[k] for r in runs]))]
                     for k in ("top1", "top2", "top3", "top50_mean", "top10_auc")} for m, runs in results.items()}
        _, info = finetuned(args.dm, prop, args.pretrain_steps, args.finetune_steps)
        offline_best = sorted(known.values(), reverse=True)
        write(result_name(prop, args), {
            "property": prop, "budget": args.budget, "seeds": args.seeds, "offline_labelled": N_LABELLED,
            "offline_top1": offline_best[0], "offline_top50_mean": float(np.mean(offline_best[:50])),
            "seeding": args.seeding, "per_round": args.per_round, "refit_steps": args.refit_steps,
            "shift": SHIFT[prop], "ring_sizes": args.ring_sizes, "top_k": args.top_k,
            "temperature": args.temperature, "pretrain_steps": args.pretrain_steps,
            "finetune_steps": args.finetune_steps, "model": MODEL, "model_training": info,
            "targets": paired_targets(results), "table_mean_std": table, "runs": results, "seconds": timings,
            "reused": reused, "missing": missing})
        plot(result_name(prop, args), prop, results, args.budget)


def _reuse(prop: str, jobs: set[tuple[str, int]], args) -> tuple[dict, dict, dict, list[str]]:
    """The runs of the report's (method, seed) grid that are not in ``jobs``, from the existing
    results file of the same settings: ({method: {seed: run}}, timings, {"method/seed": source},
    the "method/seed" runs found nowhere)."""
    results: dict = {m: {} for m in METHODS}
    grid = {(m, s) for m in METHODS for s in range(args.seeds)}
    wanted = grid - jobs
    if not wanted:
        return results, {}, {}, []
    path = result_path(result_name(prop, args), ".json")
    if not path.exists() and "lpt" not in {m for m, _ in wanted}:  # the baselines do not depend on LPT's training
        path = result_path(result_name(prop, args), ".json", default_model=True)
    old = json.loads(path.read_text()) if path.exists() else {}
    rings = None if args.ring_sizes is None else list(args.ring_sizes)  # as JSON holds it
    same = old and (old.get("budget"), old.get("ring_sizes"), old.get("seeding", "pool"), old.get("per_round")) == (
        args.budget, rings, args.seeding, args.per_round)
    timings, reused = {}, {}
    for m, runs in (old.get("runs", {}) if same else {}).items():
        for i, r in enumerate(runs):
            s = r.get("seed", i)  # seed i of a method is the same run in any file
            if (m, s) in wanted:
                results[m][s] = {"seed": s, **r}
                timings[f"{m}/{s}"] = old["seconds"].get(f"{m}/{s}")
                reused[f"{m}/{s}"] = old.get("reused", {}).get(f"{m}/{s}", f"{path.name} of an earlier run")
    missing = sorted(f"{m}/{s}" for m, s in wanted if s not in results[m])
    if missing:  # the file is written without them (its "missing" entry): run them later to complete it
        print(f"not run and not in {path.name} with budget {args.budget}, ring sizes {args.ring_sizes}, seeding "
              f"{args.seeding}, {args.per_round} designs a round: {missing}", flush=True)
    return results, timings, reused, missing


def _all_y(dm) -> torch.Tensor:
    """Property values of every kept molecule in ``dm.smiles`` order (train, val and test splits)."""
    y = torch.empty(len(dm.smiles), dm.train_set.y.shape[1])
    y[dm.train_idx] = dm.train_set.y
    y[dm.val_idx] = dm.val_set.y
    if len(dm.test_idx):  # ZINC250k's held-out test molecules (the first-party seeding's targets)
        y[dm.test_idx] = dm.test_set.y
    return y


if __name__ == "__main__":
    main()
