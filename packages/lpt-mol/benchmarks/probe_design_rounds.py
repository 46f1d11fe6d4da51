"""What LPT's designs look like round by round in the shifting loop of ``bench_design.py``.

Runs the same loop (same cached fine-tuned model, offline set, pool and chain starts) for a few
rounds and records, per round, the oracle values of the designs against the 80 pool molecules
their chains started from, the new oracle calls, and the designs' ring structure
(``metrics.ring_structure``). Knobs: refit steps a round, and the decoding's top-k / temperature
and the ring filter (the released loop: one pass, top-k 50, temperature 1, rings of 5 or 6).

    OMP_NUM_THREADS=1 python benchmarks/probe_design_rounds.py [--property qed] [--rounds 6]
        [--refit-steps N] [--top-k 50] [--temperature 1.0] [--seed 0] [--ring-sizes 5,6|none]
Writes ``results/design-rounds-<property>-k<top_k>-t<temperature>-r<refit>-rings<sizes>-<machine>.json``.
"""
from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from _shared import finetuned, labelled_data, write
from bench_design import SHIFT, _all_y, _oracle, ring_sizes_arg, shift_config

from latent_ebm.lpt_mol.data import SelfiesVocab
from latent_ebm.lpt_mol.metrics import ring_structure
from latent_ebm.lpt_mol.shift import ShiftState, shift_round


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--property", default="qed", choices=tuple(SHIFT))
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--refit-steps", type=int, default=None, help="default: one pass over the pool")
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ring-sizes", type=ring_sizes_arg, default=(5, 6),
                    help="'none' turns the released loop's ring filter off")
    ap.add_argument("--per-round", type=int, default=80)
    ap.add_argument("--pretrain-steps", type=int, default=2400)
    ap.add_argument("--finetune-steps", type=int, default=60)
    args = ap.parse_args()
    ring_sizes = args.ring_sizes
    dm = labelled_data()
    column = dm.hparams.properties.index(args.property)
    known = {s: float(y[column]) for s, y in zip(dm.smiles, _all_y(dm))}
    model, info = finetuned(dm, args.property, args.pretrain_steps, args.finetune_steps)
    model = copy.deepcopy(model)
    vocab = SelfiesVocab.from_state(model.vocab_state)
    oracle = _oracle(args.property, 2000, known)
    top = sorted(known.items(), key=lambda t: -t[1])
    cfg = shift_config(args.property, args, rounds=args.rounds)
    state = ShiftState(pool=top[:2000])
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    rounds = []
    for r in range(args.rounds):
        starts = [v for _, v in state.pool[: cfg.per_round]]
        calls, rejected, start = oracle.calls, state.rejected, time.perf_counter()
        new = shift_round(model, vocab, oracle, state, cfg, g)
        values = [v for _, v in new]
        rounds.append({"round": r, "designs_scored": len(new), "new_calls": oracle.calls - calls,
                       "ring_filter_rejected": state.rejected - rejected,
                       "start_mean": float(np.mean(starts)), "design_mean": float(np.mean(values)),
                       "design_median": float(np.median(values)), "design_max": float(np.max(values)),
                       "structure": ring_structure([s for s, _ in new]), "seconds": time.perf_counter() - start})
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rounds[-1].items() if k != "structure"},
              flush=True)
    pool_structure = ring_structure([s for s, _ in top[:2000]])
    rings = "any" if ring_sizes is None else "".join(map(str, ring_sizes))
    tag = f"k{args.top_k}-t{args.temperature:g}-r{'pass' if args.refit_steps is None else args.refit_steps}-rings{rings}"
    path = write(f"design-rounds-{args.property}-{tag}", {
        "property": args.property, "seed": args.seed, "per_round": cfg.per_round, "shift": cfg.shift,
        "refit_steps": args.refit_steps, "ring_sizes": ring_sizes, "top_k": args.top_k, "temperature": args.temperature,
        "model_training": info, "offline_pool_structure": pool_structure, "rounds": rounds,
        "design_mean_over_rounds": float(np.mean([r["design_mean"] for r in rounds]))})
    print(path)


if __name__ == "__main__":
    main()
