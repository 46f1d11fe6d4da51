"""How much does the decoder read its latent? Pretrain a CPU-sized LPT from scratch with a chosen
posterior schedule during learning, then compare the held-out token cross-entropy of p(x | U(z0))
at posterior latents z0 ~ p(z0 | x) (15 x 0.3, the paper's inference) with the same decoder at
z0 ~ N(0, I). The gap (nats per token) is what the latent explains; 0 means the decoder ignores it.

    OMP_NUM_THREADS=1 python benchmarks/probe_latent_usage.py --steps 300 --train-posterior-steps 3 \
        [--train-step-size 1.0] [--persistent]
Writes ``results/latent-usage-<tag>-<machine>.json``; one seed, a probe, not a benchmark.
"""
from __future__ import annotations

import argparse
import time

import torch
from _shared import MODEL, PROPERTIES, _trainer, labelled_data, pretrained, write

from latent_ebm.lpt_mol import LPTMolModule
from latent_ebm.lpt_mol.model import LPT_POSTERIOR


@torch.no_grad()
def token_ce(model: LPTMolModule, batch: dict, u: torch.Tensor) -> float:
    ce, mask = model.token_nll(batch["x"], model.prior.transform(u))
    return float((ce * mask).sum() / mask.sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--train-posterior-steps", type=int, default=3)
    ap.add_argument("--train-step-size", type=float, default=0.3)
    ap.add_argument("--persistent", action="store_true", help="warm-start each example's chain (core ExampleChains)")
    ap.add_argument("--n-eval", type=int, default=256)
    ap.add_argument("--benchmark-model", action="store_true",
                    help="measure the cached pretrained model of the benchmarks (_shared.MODEL, --steps) instead")
    args = ap.parse_args()
    torch.set_num_threads(1)
    dm = labelled_data()
    if args.benchmark_model:
        model, info = pretrained(dm, args.steps)
        measure(model, dm, args, f"benchmark-model-{args.steps}", {"model": MODEL, "model_training": info})
        return
    torch.manual_seed(0)
    model = LPTMolModule(vocab_size=len(dm.vocab), properties=PROPERTIES, phase="pretrain",
                         **{**MODEL, "posterior": {**MODEL["posterior"], "n_steps": args.train_posterior_steps,
                                                   "step_size": args.train_step_size}},
                         chains={"persistent": args.persistent, "n_examples": len(dm.train_set)})
    start = time.perf_counter()
    _trainer(args.steps).fit(model, train_dataloaders=dm.train_dataloader())
    train_s = time.perf_counter() - start
    tag = (f"{args.steps}-k{args.train_posterior_steps}-s{args.train_step_size:g}"
           f"{'-persistent' if args.persistent else ''}")
    measure(model, dm, args, tag, {"steps": args.steps, "train_posterior_steps": args.train_posterior_steps,
                                   "train_step_size": args.train_step_size, "persistent": args.persistent,
                                   "train_s": train_s})


def measure(model: LPTMolModule, dm, args, tag: str, info: dict) -> None:
    model.eval()
    g = torch.Generator().manual_seed(1)
    rows = {}
    for split, ds in (("val", dm.val_set), ("train", dm.train_set)):
        idx = torch.arange(min(args.n_eval, len(ds)))
        batch = {"x": ds.x[idx], "y": ds.y[idx], "index": idx}
        u_post = model.infer_xy(batch, None, schedule=LPT_POSTERIOR, generator=g)
        u_prior = torch.randn(u_post.shape, generator=g)
        rows[split] = {"ce_posterior": token_ce(model, batch, u_post), "ce_prior": token_ce(model, batch, u_prior)}
        if split == "train" and model.chains is not None:
            rows[split]["ce_persistent_chain"] = token_ce(model, batch, model.chains.chains[idx])
        rows[split]["gap"] = rows[split]["ce_prior"] - rows[split]["ce_posterior"]
        print(split, rows[split], flush=True)
    write(f"latent-usage-{tag}", {**info, "token_ce": rows, "eval_posterior": vars(LPT_POSTERIOR)})


if __name__ == "__main__":
    main()
