"""Unconditional generation after pretraining: z0 ~ N(0, I), z = U(z0), decode with top-k.

Validity, uniqueness, novelty against the training set and internal diversity (MOSES metrics,
``latent_ebm.lpt_mol.metrics``), ring structure (heavy atoms, rings, aromatic rings, rings > 6),
and histograms of QED, SA and penalised logP of the samples
against the data (a figure). The same metrics for a random draw of training molecules give the
data's own reference values.

    OMP_NUM_THREADS=1 python benchmarks/bench_unconditional.py [--n 1000] [--pretrain-steps 2400] [--top-k 50] [--temperature 1]
Writes ``results/unconditional-<machine>.json`` and ``.png``.
"""
from __future__ import annotations

import argparse
import random
import time

import numpy as np
import torch
from _shared import MODEL, N_LABELLED, labelled_data, png, pretrained, write

from latent_ebm.lpt_mol import decode
from latent_ebm.lpt_mol.data import SelfiesVocab
from latent_ebm.lpt_mol.metrics import (
    internal_diversity,
    novelty,
    ring_structure,
    uniqueness,
    validity,
)
from latent_ebm.lpt_mol.oracles import ORACLES, canonical

PROPS = ("qed", "sa", "plogp")


def set_metrics(smiles: list[str], train: list[str]) -> dict:
    return {"validity": validity(smiles), "uniqueness": uniqueness(smiles), "novelty": novelty(smiles, train),
            "internal_diversity": internal_diversity(smiles), **ring_structure(smiles)}


def properties(smiles: list[str]) -> dict[str, list[float]]:
    valid = [c for c in (canonical(s) for s in smiles) if c is not None]
    return {p: [ORACLES[p](s) for s in valid] for p in PROPS}


def plot(gen: dict, data: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PROPS), figsize=(4.5 * len(PROPS), 3.5))
    for ax, p in zip(axes, PROPS):
        bins = np.histogram_bin_edges(data[p] + gen[p], bins=40)
        ax.hist(data[p], bins=bins, density=True, alpha=0.5, label="ZINC (training)")
        ax.hist(gen[p], bins=bins, density=True, alpha=0.5, label="LPT samples")
        ax.set(title=p, xlabel=p)
        ax.legend()
    fig.tight_layout()
    fig.savefig(png("unconditional"), dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--pretrain-steps", type=int, default=2400)
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--temperature", type=float, default=1.0)
    args = ap.parse_args()
    dm = labelled_data()
    model, info = pretrained(dm, args.pretrain_steps)
    vocab = SelfiesVocab.from_state(model.vocab_state)
    train = [dm.smiles[i] for i in dm.train_idx.tolist()]
    g = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    u = torch.randn(args.n, *model.latent_shape, generator=g)
    smiles = []
    for chunk in u.split(250):
        smiles += decode(model, chunk, vocab, top_k=args.top_k, temperature=args.temperature, generator=g)
    seconds = time.perf_counter() - start
    reference = random.Random(0).sample(train, args.n)
    gen_props, data_props = properties(smiles), properties(reference)
    result = {
        "n": args.n, "top_k": args.top_k, "temperature": args.temperature, "offline_labelled": N_LABELLED, "model": MODEL, "model_training": info,
        "lpt": set_metrics(smiles, train), "training_sample": set_metrics(reference, train),
        "property_mean": {"lpt": {p: float(np.mean(v)) for p, v in gen_props.items()},
                          "training_sample": {p: float(np.mean(v)) for p, v in data_props.items()}},
        "sample_seconds_per_molecule": seconds / args.n, "examples": smiles[:10],
    }
    write("unconditional", result)
    plot(gen_props, data_props)
    print({k: result[k] for k in ("lpt", "training_sample", "property_mean")})


if __name__ == "__main__":
    main()
