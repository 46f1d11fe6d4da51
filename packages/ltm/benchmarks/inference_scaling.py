"""Benchmark 3: validation ELBO-PPL vs the eval inner steps in {0, 4, 8, 16, 32, 64} for one trained LTM.

Trains LTM once (training T_fast fixed), then re-evaluates the same validation blocks with more
inference-time computation. Kong et al. 2025 (project page figure ppl_val_3) report the same
monotone fall on OpenWebText (e.g. 38M model: ~12.3 at T=16 to ~2.8 at T=128).

    python packages/ltm/benchmarks/inference_scaling.py [--dataset latent-topic|wikitext-2] [--train-steps 200]
"""

from __future__ import annotations

import argparse

import torch
from _common import png_path, quiet_trainer, write_json

from latent_ebm.ltm import LTMDataModule, LTMModule
from latent_ebm.ltm.evaluate import block_scores

STEPS = (0, 4, 8, 16, 32, 64)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="latent-topic")
    p.add_argument("--train-steps", type=int, default=200)
    p.add_argument("--val-blocks", type=int, default=64)
    a = p.parse_args()
    torch.manual_seed(0)
    text = a.dataset != "latent-topic"
    seq = 128 if text else 64
    dm = LTMDataModule(dataset=a.dataset, seq_len=seq, batch_size=16, eval_batch_size=16)
    model = LTMModule(vocab_size=dm.vocab_size, d_model=64 if text else 32, n_layers=2, n_heads=2, seq_len=seq,
                      window=16 if text else 4, n_latents=4, fast={"steps": 8, "accumulate_grads": False},
                      optim={"lr": 3e-3, "warmup_steps": 30})  # the cosine ends at the Trainer's max_steps
    quiet_trainer(max_steps=a.train_steps, limit_val_batches=0).fit(model, dm)
    dm.setup()
    val = dm.splits["validation"]
    blocks = torch.stack([val[i]["x"] for i in range(min(a.val_blocks, len(val)))]).to(model.device)
    rows = []
    for s in STEPS:
        torch.manual_seed(1)  # same q init and eps for every step count
        rows.append({"eval_inner_steps": s, **block_scores(model, blocks, batch_size=16, steps=s)})
        print(rows[-1], flush=True)
    ppl = [r["ppl_mean_block"] for r in rows]
    out = {"dataset": a.dataset, "train_steps": a.train_steps, "train_inner_steps": 8,
           "accumulate_grads": model.fast.accumulate_grads, "rows": rows,
           "monotone_decreasing": all(x > y for x, y in zip(ppl, ppl[1:]))}
    print(write_json("inference-scaling", out))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(STEPS, ppl, "o-")
    ax.set_xscale("symlog", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("eval inner steps (T_fast)")
    ax.set_ylabel("val ELBO-PPL (upper bound)")
    ax.set_title(f"LTM on {a.dataset}")
    fig.tight_layout()
    fig.savefig(png_path("inference-scaling"))


if __name__ == "__main__":
    main()
