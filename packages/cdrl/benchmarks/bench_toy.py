"""CDRL (K = 15) vs DRL (K = 30) on 2-d toy densities with known answers, same iterations.

Quality: unbiased MMD^2 to 4000 exact samples (and, for the mixture, the mean true log-density
of the samples and the mode weights), against K at sampling time; time per sample; training time
per iteration. Writes ``results/toy-cdrl-vs-drl-cpu.{json,png}``.

    OMP_NUM_THREADS=1 python benchmarks/bench_toy.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import torch

from latent_ebm.cdrl import CDRLDataModule, CDRLModule, ToyDensity
from latent_ebm.core.metrics import gaussian_mmd

OUT = Path(__file__).parent / "results"


def make(drl: bool) -> CDRLModule:
    return CDRLModule(data_shape=(2,), ebm_width=64, ebm_mult=(1, 1), init_width=64, init_mult=(1, 1),
                      revision={"n_steps": 30 if drl else 15}, use_initializer=not drl, step_coeff=1e-3,
                      energy_optim={"lr": 1e-3, "warmup_steps": 20},
                      initializer_optim={"lr": 1e-3, "warmup_steps": 20}, ema_decay=0.95, spectral_norm=False)


def quality(m: CDRLModule, d: ToyDensity, real: torch.Tensor, k: int, n: int) -> dict:
    x = m.sample(n, n_steps=k, generator=torch.Generator().manual_seed(1))
    row = {"k": k, "mmd": float(gaussian_mmd(real, x))}
    if d.name == "mixture":
        row["mean_true_loglik"] = float(d.log_prob(x).mean())
        row["mode_weights"] = (torch.bincount(d.assign(x), minlength=len(d.weights)).double() / n).tolist()
    return row


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--ks", type=int, nargs="+", default=[2, 5, 15, 30])
    args = p.parse_args()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    res: dict = {"config": vars(args), "datasets": {}}
    samples = {}
    for name in ("mixture", "rings", "checkerboard"):
        d = ToyDensity(name)
        real = d.sample(4000, torch.Generator().manual_seed(7))
        out: dict = {}
        if name == "mixture":
            out["true_mean_loglik"] = float(d.log_prob(real).mean())
            out["true_mode_weights"] = d.weights.tolist()
        out["mmd_true_vs_true"] = float(gaussian_mmd(real[:2000], real[2000:]))
        for method, drl in (("cdrl", False), ("drl", True)):
            L.seed_everything(0)
            m = make(drl)
            dm = CDRLDataModule(name, batch_size=256, n_train=256 * args.iters)
            t0 = time.perf_counter()
            L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                      inference_mode=False).fit(m, dm)
            r = {"train_s_per_iter": (time.perf_counter() - t0) / args.iters}
            m.eval()
            t0 = time.perf_counter()
            samples[(name, method)] = m.sample(args.n, generator=torch.Generator().manual_seed(1))
            r["sample_s_per_1k"] = (time.perf_counter() - t0) / args.n * 1000
            r["vs_k"] = [quality(m, d, real, k, args.n) for k in args.ks]
            if not drl:
                r["initializer_only"] = {"mmd": float(gaussian_mmd(real, m.sample(
                    args.n, use_langevin=False, generator=torch.Generator().manual_seed(1))))}
            out[method] = r
            print(name, method, json.dumps(r)[:300], flush=True)
        drl30 = next(row["mmd"] for row in out["drl"]["vs_k"] if row["k"] == 30)
        out["cdrl_min_k_matching_drl_k30"] = next(
            (row["k"] for row in out["cdrl"]["vs_k"] if row["mmd"] <= drl30), None)
        out["sample_time_drl_over_cdrl"] = out["drl"]["sample_s_per_1k"] / out["cdrl"]["sample_s_per_1k"]
        res["datasets"][name] = out
    res["wall_s"] = time.perf_counter() - t_start
    OUT.mkdir(exist_ok=True)
    (OUT / "toy-cdrl-vs-drl-cpu.json").write_text(json.dumps(res, indent=2))
    plot(res, samples, OUT / "toy-cdrl-vs-drl-cpu.png")
    print(f"{res['wall_s']:.0f}s")


def plot(res: dict, samples: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(res["datasets"])
    fig, ax = plt.subplots(3, len(names), figsize=(4.2 * len(names), 12))
    for j, name in enumerate(names):
        out = res["datasets"][name]
        for method, style in (("cdrl", "o-"), ("drl", "s--")):
            rows = out[method]["vs_k"]
            ax[0, j].semilogy([r["k"] for r in rows], [max(r["mmd"], 1e-6) for r in rows], style, label=method)
        ax[0, j].axhline(max(out["mmd_true_vs_true"], 1e-6), color="gray", lw=0.8, label="true vs true")
        ax[0, j].set(title=f"{name}: MMD^2 vs K (sampling)", xlabel="K per level")
        ax[0, j].legend()
        for i, method in enumerate(("cdrl", "drl"), start=1):
            x = samples[(name, method)]
            ax[i, j].scatter(x[:, 0], x[:, 1], s=1, alpha=0.4)
            ax[i, j].set(xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal",
                         title=f"{method} (K={15 if method == 'cdrl' else 30})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
