"""Benchmark 1: training throughput (tokens/s) of LTM vs the same-size GPT, measured in one run.

Target (issue): LTM time per token <= 1.15 x (T_fast + 1) x GPT's. The inner loop takes
gradients w.r.t. (mu, log sigma^2) only, so its backward skips the weight gradients.

    python packages/ltm/benchmarks/throughput.py [--size small|ltm-s] [--steps 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from _common import RESULTS, png_path, write_json

from latent_ebm.ltm import GPTModule, LTMModule

SIZES = {
    "tiny": dict(vocab_size=512, d_model=32, n_layers=2, n_heads=2, seq_len=32, window=8, n_latents=4,
                 fast={"steps": 4}, batch=2),  # the GPU check's dry run on a CPU
    "small": dict(vocab_size=50258, d_model=256, n_layers=4, n_heads=4, seq_len=256, window=64, n_latents=8,
                  fast={"steps": 16}, batch=4),
    "ltm-s": dict(vocab_size=50258, d_model=512, n_layers=3, n_heads=8, seq_len=1024, window=256, n_latents=24,
                  fast={"steps": 16}, batch=16),
}


def _time_steps(module, x, steps: int, bf16: bool = True) -> float:
    opt = module.configure_optimizers()["optimizer"]
    module.optimizers = lambda: opt  # run training_step's pieces without a Trainer
    ctx = torch.autocast(x.device.type, torch.bfloat16, enabled=bf16 and x.is_cuda)

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


# peak dense bf16 matrix throughput of the GPUs this project may be lent (NVIDIA's data sheets,
# SXM parts): the MFU's denominator
PEAK_BF16_FLOPS = {"h100": 989e12, "h200": 989e12}


def _peak_flops() -> float | None:
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name().lower()
    return next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", choices=sorted(SIZES), default="small")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--no-bf16", action="store_true", help="float32 on the GPU (default: bf16 autocast)")
    p.add_argument("--compile", action="store_true", help="torch.compile both decoders")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    cfg = dict(SIZES[a.size])
    batch = cfg.pop("batch")
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    x = torch.randint(0, cfg["vocab_size"] - 1, (batch, cfg["seq_len"]), device=dev)
    ltm = LTMModule(**cfg).to(dev)
    gpt_cfg = {k: v for k, v in cfg.items() if k not in ("n_latents", "fast", "window")}
    gpt = GPTModule(**gpt_cfg).to(dev)
    if a.compile:
        ltm.decoder, gpt.decoder = torch.compile(ltm.decoder), torch.compile(gpt.decoder)
    t_gpt = _time_steps(gpt, x, a.steps, bf16=not a.no_bf16)
    t_ltm = _time_steps(ltm, x, a.steps, bf16=not a.no_bf16)
    tokens = batch * (cfg["seq_len"] - 1)
    ratio = t_ltm / t_gpt
    t_fast = ltm.fast.steps
    bound = 1.15 * (t_fast + 1)
    # model FLOPs per trained token, 6 N (Kaplan et al. 2020): GPT's one forward + backward; LTM's
    # (T_fast + 1) of them (each inner step a forward and a backward to the latents)
    n_params = sum(q.numel() for q in gpt.decoder.parameters())
    peak = _peak_flops()
    mfu = {name: 6 * n_params * (tokens / t) * passes / peak if peak else None
           for name, t, passes in (("gpt", t_gpt, 1), ("ltm", t_ltm, t_fast + 1))}
    out = {"size": a.size, "config": cfg, "batch": batch, "device": str(dev) if dev.type == "cpu" else
           torch.cuda.get_device_name(), "bf16": dev.type == "cuda" and not a.no_bf16, "compile": a.compile,
           "gpt_tokens_per_s": tokens / t_gpt, "ltm_tokens_per_s": tokens / t_ltm, "mfu": mfu,
           "ltm_over_gpt_time_per_token": ratio, "target_max_ratio": bound, "meets_target": ratio <= bound,
           "targets": [{"name": f"LTM time per token / GPT's (T_fast = {t_fast})", "value": ratio,
                        "goal": f"<= 1.15 x (T_fast + 1) = {bound:.2f}", "met": ratio <= bound}]}
    suffix = "-compile" if a.compile else ""
    print(write_json(f"throughput-{a.size}{suffix}", out, a.out_dir), out)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(["GPT", f"LTM (T_fast={t_fast})"], [tokens / t_gpt, tokens / t_ltm])
    ax.set_ylabel("training tokens / s")
    ax.set_title(f"{a.size}: ratio {ratio:.1f} (target <= {bound:.1f})")
    fig.tight_layout()
    fig.savefig(png_path(f"throughput-{a.size}{suffix}", a.out_dir))


if __name__ == "__main__":
    main()
