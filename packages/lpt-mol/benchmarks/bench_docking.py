"""A small end-to-end docking run: LPT gradual distribution shifting against AutoDock Vina.

The pretrained CPU-sized LPT (``_shared.pretrained``) gets a docking property head; the start
pool is ``--offline`` random ZINC250k molecules docked first (counted in the budget); then rounds
of design from the best pool molecules' latents at their value + shift, docking, top-pool refit, until
``--budget`` docking calls are spent (results in the README come from the earlier best + shift loop).
Every call goes through ``Oracle(DockingOracle(..., negate=True))``: values are -E (kcal/mol),
K_D = exp(E / RT) in nM (``docking.kd_nm``). Failures are counted by stage, never scored 0.
This shows the pipeline works; it is far below the paper's scale (about 2,500 dockings a round).

    OMP_NUM_THREADS=1 python benchmarks/bench_docking.py [--target esr1] [--scoring vina] [--budget 250]
Writes ``results/docking-<target>-<machine>.json``.
"""
from __future__ import annotations

import argparse
import random
import time

import torch
from _shared import MODEL, finetune_args, labelled_data, pretrained, write

from latent_ebm.lpt_mol import LPTMolModule
from latent_ebm.lpt_mol.data import SelfiesVocab
from latent_ebm.lpt_mol.docking import DockingOracle, kd_nm
from latent_ebm.lpt_mol.oracles import Oracle
from latent_ebm.lpt_mol.shift import ShiftConfig, ShiftState, refit, shift_round


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--target", default="esr1", choices=("esr1", "acaa1"))
    ap.add_argument("--scoring", default="vina", choices=("vina", "ad4"))
    ap.add_argument("--budget", type=int, default=250)
    ap.add_argument("--offline", type=int, default=100)
    ap.add_argument("--per-round", type=int, default=50)
    ap.add_argument("--exhaustiveness", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--pretrain-steps", type=int, default=400)
    ap.add_argument("--refit-steps", type=int, default=20)
    args = ap.parse_args()
    dm = labelled_data()
    base, info = pretrained(dm, args.pretrain_steps)
    model = LPTMolModule(**finetune_args(base, (args.target,)))
    model.load_state_dict({k: v for k, v in base.state_dict().items() if not k.startswith("prop.")}, strict=False)
    model.vocab_state = base.vocab_state
    vocab = SelfiesVocab.from_state(model.vocab_state)
    docker = DockingOracle(args.target, scoring=args.scoring, exhaustiveness=args.exhaustiveness,
                           n_workers=args.workers, negate=True)
    oracle = Oracle(docker, budget=args.budget)
    start = time.perf_counter()
    initial = random.Random(0).sample(dm.smiles, args.offline)
    values = oracle(initial)
    pool = sorted(((s, v) for s, v in zip(initial, values) if v is not None), key=lambda t: -t[1])
    rounds = [{"round": "initial ZINC sample", "docked": len(initial), "best_energy": -pool[0][1]}]
    print(rounds[-1], flush=True)
    state = ShiftState(pool=pool)
    cfg = ShiftConfig(per_round=args.per_round, shift=0.5, pool_size=len(pool) + args.budget,
                      refit_steps=args.refit_steps, batch_size=32)
    g = torch.Generator().manual_seed(0)
    refit(model, vocab, state, cfg)  # learn p(y | z) on the initial pool before the first design
    while oracle.remaining > 0:
        new = shift_round(model, vocab, oracle, state, cfg, generator=g)
        if not new:
            break
        rounds.append({"round": state.round, "docked": len(new), "best_energy_new": -max(v for _, v in new),
                       "best_energy_pool": -state.pool[0][1]})
        print(rounds[-1], flush=True)
    seconds = time.perf_counter() - start
    top = oracle.top_k(3)
    write(f"docking-{args.target}", {
        "target": args.target, "scoring": args.scoring, "exhaustiveness": args.exhaustiveness,
        "budget": args.budget, "calls": oracle.calls, "invalid_smiles": oracle.invalid,
        "docking_failures_by_stage": dict(docker.failures), "failure_rate": docker.failure_rate,
        "last_errors": list(docker.errors)[-5:], "rounds": rounds,
        "top3": [{"smiles": s, "energy_kcal_mol": -v, "kd_nm": float(kd_nm(-v))} for s, v in top],
        "initial_top3_energy": [-v for _, v in pool[:3]], "seconds": seconds,
        "seconds_per_docking": seconds / max(1, oracle.calls), "model": MODEL, "model_training": info,
    })
    docker.close()
    print(top)


if __name__ == "__main__":
    main()
