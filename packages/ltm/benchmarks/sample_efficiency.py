"""Benchmark 2: sample efficiency on WikiText-2 at equal training tokens, LTM vs the same-size GPT.

CPU-sized model (d 256, 4 layers, context 256, window 64 for LTM, full causal GPT). Both are trained
by Lightning through their own ``training_step`` (LTM: the core's ``DualRateModule``, default
``fast.accumulate_grads=False``) on the same token stream; every ``--eval-every`` tokens a callback
records LTM's val ELBO-PPL (inner loop on the evaluated block, the paper's metric) and prefix PPL
(z from the first half, second half scored), and GPT's val PPL and prefix PPL on the same blocks.
The slow-rate schedule warms up over ``--warmup-frac`` of the steps, then decays by cosine to lr/10
at the last step, so the peak lr is reached inside the run.

    OMP_NUM_THREADS=1 python packages/ltm/benchmarks/sample_efficiency.py [--tokens 40960] [--inner-steps 4]

T_fast defaults to 4 here (not the paper's 16) so the run fits ~30 min of one shared CPU core; say so
next to any number taken from it.
"""

from __future__ import annotations

import argparse
import os
import time

import lightning as L
import torch
from _common import png_path, quiet_trainer, write_json

from latent_ebm.ltm import GPTModule, LTMDataModule, LTMModule


def _evaluate(model, blocks: torch.Tensor) -> dict:
    was_training = model.training
    model.eval()
    p = model.prefix_len(blocks.shape[1])
    if isinstance(model, LTMModule):
        local = model.fit_local(blocks, model.fast.eval_steps_or_steps)
        with torch.no_grad():
            nll, kl = model.elbo_terms(blocks, local)
        z = model.fit_local(blocks[:, :p], model.fast.eval_steps_or_steps).mu
        n = blocks.shape[1] - 1
        out = {"elbo_ppl": float(((nll + kl) / n).exp().mean()), "nll_tokens": float(nll.sum() / (n * len(nll))),
               "kl_per_block": float(kl.mean())}
    else:
        z, out = None, {}
    with torch.no_grad():
        tok = model.token_nll(blocks, z)
    out["prefix_ppl"] = float(tok[:, p - 1 :].mean().exp())
    if z is None:
        out["ppl"] = float(tok.mean().exp())
    model.train(was_training)
    return out


class _Curve(L.Callback):
    """Evaluates on fixed validation blocks every ``eval_every`` training tokens; times training only."""

    def __init__(self, blocks: torch.Tensor, eval_every: int) -> None:
        self.blocks, self.eval_every = blocks, eval_every
        self.rows: list[dict] = []
        self.seen, self.next_eval, self.train_s = 0, eval_every, 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.train_s += time.perf_counter() - self._t
        self.seen += batch["x"].numel()
        if self.seen >= self.next_eval:
            lr = trainer.optimizers[0].param_groups[0]["lr"]
            self.rows.append({"tokens": self.seen, "step": trainer.global_step, "lr": lr,
                              "train_s": round(self.train_s, 1), **_evaluate(module, self.blocks)})
            print(type(module).__name__, self.rows[-1], flush=True)
            self.next_eval += self.eval_every


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tokens", type=int, default=40_960)
    p.add_argument("--eval-every", type=int, default=10_240)
    p.add_argument("--inner-steps", type=int, default=4)
    p.add_argument("--val-blocks", type=int, default=16)
    p.add_argument("--warmup-frac", type=float, default=0.05)
    a = p.parse_args()
    batch, seq = 8, 256
    dm = LTMDataModule(dataset="wikitext-2", seq_len=seq, batch_size=batch)
    dm.prepare_data()
    dm.setup()
    val = dm.splits["validation"]
    blocks = torch.stack([val[i]["x"] for i in range(a.val_blocks)])
    steps = max(1, a.tokens // (batch * seq))
    warmup = max(1, round(a.warmup_frac * steps))
    # the cosine ends at the Trainer's max_steps=steps
    size = dict(vocab_size=dm.vocab_size, d_model=256, n_layers=4, n_heads=4, seq_len=seq,
                optim={"lr": 1e-3, "warmup_steps": warmup})
    ltm_extra = dict(window=64, n_latents=8, fast={"steps": a.inner_steps, "accumulate_grads": False})
    curves, train_s = {}, {}
    for name, cls, extra in (("gpt", GPTModule, {}), ("ltm", LTMModule, ltm_extra)):
        L.seed_everything(0, verbose=False)
        curve = _Curve(blocks, a.eval_every)
        quiet_trainer(max_steps=steps, limit_val_batches=0, callbacks=[curve]).fit(cls(**size, **extra), dm)
        curves[name], train_s[name] = curve.rows, curve.train_s
    out = {"dataset": "wikitext-2", "batch_size": batch, "model": size, "ltm": ltm_extra, "inner_steps": a.inner_steps,
           "train_tokens": steps * batch * seq, "val_blocks": a.val_blocks, "warmup_frac": a.warmup_frac,
           "torch_threads": torch.get_num_threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
           "train_seconds": train_s, "ltm_over_gpt_time_per_token": train_s["ltm"] / train_s["gpt"], "curves": curves}
    print(write_json("sample-efficiency", out))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    g, lt = curves["gpt"], curves["ltm"]
    ax.plot([r["tokens"] for r in g], [r["ppl"] for r in g], "o-", label="GPT PPL")
    ax.plot([r["tokens"] for r in g], [r["prefix_ppl"] for r in g], "o--", label="GPT prefix PPL")
    ax.plot([r["tokens"] for r in lt], [r["elbo_ppl"] for r in lt], "s-", label="LTM ELBO-PPL (bound)")
    ax.plot([r["tokens"] for r in lt], [r["prefix_ppl"] for r in lt], "s--", label="LTM prefix PPL")
    ax.set_xlabel("training tokens")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path("sample-efficiency"))


if __name__ == "__main__":
    main()
