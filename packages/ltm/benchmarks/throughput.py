"""Benchmark 1: training throughput (tokens/s) of LTM vs the same-size GPT, measured in one run.

Target (issue): LTM time per token <= 1.15 x (T_fast + 1) x GPT's. The inner loop takes
gradients w.r.t. (mu, log sigma^2) only, so its backward skips the weight gradients.

    python packages/ltm/benchmarks/throughput.py [--size small|ltm-s] [--steps 5]
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import device_tag, png_path, write_json

from latent_ebm.ltm import GPTModule, LTMModule

SIZES = {
    "small": dict(vocab_size=50258, d_model=256, n_layers=4, n_heads=4, seq_len=256, window=64, n_latents=8,
                  fast={"steps": 16}, batch=4),
    "ltm-s": dict(vocab_size=50258, d_model=512, n_layers=3, n_heads=8, seq_len=1024, window=256, n_latents=24,
                  fast={"steps": 16}, batch=16),
}


def _time_steps(module, x, steps: int) -> float:
    opt = module.configure_optimizers()["optimizer"]
    module.optimizers = lambda: opt  # run training_step's pieces without a Trainer
    ctx = torch.autocast("cuda", torch.bfloat16) if x.is_cuda else torch.autocast("cpu", enabled=False)

    def one():
        opt.zero_grad(set_to_none=True)
        with ctx:
            if isinstance(module, LTMModule):
                local = module.fit_local(x, module.fast.steps)
                z = local.z.detach()
            else:
                z = None
            loss = module.token_nll(x, z).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), module.optim.grad_clip)
        opt.step()

    one()  # warm-up
    if x.is_cuda:
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        one()
    if x.is_cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", choices=sorted(SIZES), default="small")
    p.add_argument("--steps", type=int, default=3)
    a = p.parse_args()
    cfg = dict(SIZES[a.size])
    batch = cfg.pop("batch")
    dev = torch.device(device_tag())
    torch.manual_seed(0)
    x = torch.randint(0, 50257, (batch, cfg["seq_len"]), device=dev)
    ltm = LTMModule(**cfg).to(dev)
    gpt_cfg = {k: v for k, v in cfg.items() if k not in ("n_latents", "fast", "window")}
    gpt = GPTModule(**gpt_cfg).to(dev)
    t_gpt = _time_steps(gpt, x, a.steps)
    t_ltm = _time_steps(ltm, x, a.steps)
    tokens = batch * (cfg["seq_len"] - 1)
    ratio = t_ltm / t_gpt
    t_fast = ltm.fast.steps
    bound = 1.15 * (t_fast + 1)
    out = {"size": a.size, "config": cfg, "batch": batch, "device": str(dev),
           "gpt_tokens_per_s": tokens / t_gpt, "ltm_tokens_per_s": tokens / t_ltm,
           "ltm_over_gpt_time_per_token": ratio, "target_max_ratio": bound, "meets_target": ratio <= bound}
    print(write_json(f"throughput-{a.size}", out), out)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(["GPT", f"LTM (T_fast={t_fast})"], [tokens / t_gpt, tokens / t_ltm])
    ax.set_ylabel("training tokens / s")
    ax.set_title(f"{a.size}: ratio {ratio:.1f} (target <= {bound:.1f})")
    fig.tight_layout()
    fig.savefig(png_path(f"throughput-{a.size}"))


if __name__ == "__main__":
    main()
