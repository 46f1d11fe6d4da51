"""Benchmark 2: sample efficiency on WikiText-2 at equal training tokens, LTM vs the same-size GPT.

CPU-sized model (d 256, 4 layers, context 256, window 64 for LTM, full causal GPT). Both see the
same token stream; every ``--eval-every`` tokens we record LTM's val ELBO-PPL (inner loop on the
evaluated block, the paper's metric) and prefix PPL (z from the first half, second half scored),
and GPT's val PPL and prefix PPL on the same blocks.

    python packages/ltm/benchmarks/sample_efficiency.py [--tokens 40000] [--inner-steps 4]

T_fast defaults to 4 here (not the paper's 16) so the run fits ~15 min on a 2-core CPU; say so
next to any number taken from it.
"""

from __future__ import annotations

import argparse
import itertools

import torch
from _common import png_path, write_json

from latent_ebm.ltm import GPTModule, LTMDataModule, LTMModule


def _evaluate(model, blocks: torch.Tensor) -> dict:
    model.eval()
    p = model.prefix_len(blocks.shape[1])
    if isinstance(model, LTMModule):
        local = model.fit_local(blocks, model.eval_steps)
        with torch.no_grad():
            nll, kl = model.elbo_terms(blocks, local)
        z = model.fit_local(blocks[:, :p], model.eval_steps).mu
        n = blocks.shape[1] - 1
        out = {"elbo_ppl": float(((nll + kl) / n).exp().mean()), "nll_tokens": float(nll.sum() / (n * len(nll)))}
    else:
        z, out = None, {}
    with torch.no_grad():
        tok = model.token_nll(blocks, z)
    out["prefix_ppl"] = float(tok[:, p - 1 :].mean().exp())
    if z is None:
        out["ppl"] = float(tok.mean().exp())
    model.train()
    return out


def _train(model, dm, tokens: int, eval_every: int, blocks: torch.Tensor) -> list[dict]:
    opt = model.configure_optimizers()
    optimizer, sched = opt["optimizer"], opt["lr_scheduler"]["scheduler"]
    model.optimizers = lambda: optimizer
    curve, seen, next_eval = [], 0, eval_every
    for x in itertools.cycle(dm.train_dataloader()):
        optimizer.zero_grad(set_to_none=True)
        z = model.fit_local(x, model.hparams.inner_steps).z.detach() if isinstance(model, LTMModule) else None
        model.token_nll(x, z).mean().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        sched.step()
        seen += x.numel()
        if seen >= next_eval:
            curve.append({"tokens": seen, **_evaluate(model, blocks)})
            print(type(model).__name__, curve[-1], flush=True)
            next_eval += eval_every
        if seen >= tokens:
            return curve
    return curve


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tokens", type=int, default=40_000)
    p.add_argument("--eval-every", type=int, default=10_000)
    p.add_argument("--inner-steps", type=int, default=4)
    p.add_argument("--val-blocks", type=int, default=16)
    a = p.parse_args()
    dm = LTMDataModule(dataset="wikitext-2", seq_len=256, batch_size=8)
    dm.prepare_data()
    dm.setup()
    val = dm.splits["validation"]
    blocks = torch.stack([val[i] for i in range(a.val_blocks)])
    size = dict(vocab_size=dm.vocab_size, d_model=256, n_layers=4, n_heads=4, seq_len=256, lr=1e-3,
                warmup_steps=20, max_steps=max(1, a.tokens // (8 * 256)))
    curves = {}
    for name, cls, extra in (("gpt", GPTModule, {}),
                             ("ltm", LTMModule, dict(window=64, n_latents=8, inner_steps=a.inner_steps))):
        torch.manual_seed(0)
        curves[name] = _train(cls(**size, **extra), dm, a.tokens, a.eval_every, blocks)
    out = {"dataset": "wikitext-2", "model": size, "inner_steps": a.inner_steps, "curves": curves}
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
