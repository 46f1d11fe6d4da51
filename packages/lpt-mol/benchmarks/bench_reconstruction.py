"""Does the model read its latent? Decode the best offline molecules of a property from their own
posterior latents z0 ~ p(z0 | x, y) (the start points of a shifting round) and compare with them:
exact reconstructions, Morgan (r=2, 2048 bits) Tanimoto similarity, the property of the decodes.

    OMP_NUM_THREADS=1 python benchmarks/bench_reconstruction.py [--property qed] [--n 100]
Writes ``results/reconstruction-<property>-<machine>.json``. Uses the cached fine-tuned model of
``bench_design.py`` (same ``--pretrain-steps`` / ``--finetune-steps``).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from _shared import finetuned, labelled_data, write
from bench_design import _all_y
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from latent_ebm.lpt_mol.data import SelfiesVocab
from latent_ebm.lpt_mol.design import decode
from latent_ebm.lpt_mol.oracles import ORACLES, canonical
from latent_ebm.lpt_mol.shift import ShiftConfig, ShiftState, pool_latents


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--property", default="qed")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--pretrain-steps", type=int, default=2400)
    ap.add_argument("--finetune-steps", type=int, default=60)
    args = ap.parse_args()
    torch.set_num_threads(1)
    dm = labelled_data()
    column = dm.hparams.properties.index(args.property)
    known = {s: float(y[column]) for s, y in zip(dm.smiles, _all_y(dm))}
    top = sorted(known.items(), key=lambda t: -t[1])[: args.n]
    model, info = finetuned(dm, args.property, args.pretrain_steps, args.finetune_steps)
    vocab = SelfiesVocab.from_state(model.vocab_state)
    g = torch.Generator().manual_seed(0)
    cfg = ShiftConfig()
    u = pool_latents(model, vocab, ShiftState(pool=top), top, cfg, g)
    prior = torch.randn(u.shape, generator=g)
    fpgen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [fpgen.GetFingerprint(Chem.MolFromSmiles(s)) for s, _ in top]
    score = ORACLES[args.property]
    rows = {}
    for label, latents in (("posterior", u), ("prior", prior)):
        for top_k in (50, 5, 1):
            out = decode(model, latents, vocab, top_k=top_k, generator=g)
            ok = [(i, canonical(s)) for i, s in enumerate(out) if s and canonical(s)]
            sims = [DataStructs.TanimotoSimilarity(fpgen.GetFingerprint(Chem.MolFromSmiles(c)), fps[i]) for i, c in ok]
            rows[f"{label}/top_k={top_k}"] = {
                "valid": len(ok) / len(out),
                "exact": float(np.mean([c == canonical(top[i][0]) for i, c in ok])) if ok else 0.0,
                "tanimoto_mean": float(np.mean(sims)) if sims else 0.0,
                "property_mean": float(np.mean([score(c) for _, c in ok])) if ok else None}
            print(label, top_k, rows[f"{label}/top_k={top_k}"], flush=True)
    write(f"reconstruction-{args.property}", {
        "property": args.property, "n": args.n, "pool_property_mean": float(np.mean([v for _, v in top])),
        "infer_langevin": vars(cfg.infer_langevin), "model_training": info, "decodes": rows,
        "note": "posterior: z0 inferred from each molecule; prior: z0 ~ N(0, I), the same decoder"})


if __name__ == "__main__":
    main()
