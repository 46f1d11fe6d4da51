"""The 2-d rings toy: KL(true || model) on a 200x200 grid at 1k, 2k (and 4k) iterations, STANLEY vs
ULA (the same K, unit step, noise eps, network, optimiser and seeds), 3 seeds, paired.

The model density is the one the chains target, exp(f / eps²) (unit step, noise eps); KL of exp(f)
is recorded beside it (``curve_unit_temperature``), with the range of f on the grid (``f_range``).
Setup (the notes' experiment B): ``ToyNet`` (n_f 32), batch 100, Adam 1e-4, K = 100
non-persistent chains from uniform noise on [-2.5, 2.5]², th = 0.05 and eps = 0.1 (the authors'
toy script), per-element gamma. ``--k 20 --lr 3e-3`` is the faster setting the first version of
this benchmark used: there STANLEY's f grows without bound (see the README).
Writes ``results/toy-rings-<machine>.json`` and a PNG of the KL curves and both samplers' samples.

    python packages/stanley/benchmarks/bench_toy.py                 # 6 runs of K = 100 x 2000 iterations
    python packages/stanley/benchmarks/bench_toy.py --k 20 --lr 3e-3 --iters 4000 --tag toy-rings-k20
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from multiprocessing import get_context

import lightning as L
import torch
from _common import RESULTS, machine, target, write_json
from lightning.pytorch.callbacks import Callback

from latent_ebm.core.testing.contract import tiny_trainer
from latent_ebm.stanley import StanleyDataModule, StanleyModule
from latent_ebm.stanley.metrics import grid, mmd, toy_kl


class _KLEvery(Callback):
    def __init__(self, every: int, eps: float) -> None:
        self.every, self.eps, self.curve, self.unit, self.f_range = every, eps, [], [], []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        it = pl_module.iterations
        if it % self.every == 0:
            self.curve.append((it, toy_kl(pl_module.f, "rings", temperature=self.eps**2)))
            self.unit.append((it, toy_kl(pl_module.f, "rings")))
            with torch.no_grad():
                fx = pl_module.f(grid(100)[0].float())
            self.f_range.append((it, float(fx.max() - fx.min())))


def one_run(args):
    sampler, seed, iters, k, every, th, eps, lr = args
    torch.set_num_threads(1)
    L.seed_everything(seed, verbose=False)
    m = StanleyModule(data_shape=(2,), width=32, sampler=sampler, init_range=2.5, eval_samples=0,
                      revision={"n_steps": k, "step_size": 1.0, "noise_scale": eps, "threshold": th},
                      energy_optim={"lr": lr}, seed=seed)
    dm = StanleyDataModule("rings", batch_size=100, n_train=10000, seed=seed)
    cb = _KLEvery(every, eps)
    kl0 = toy_kl(m.f, "rings", temperature=eps**2)
    t0 = time.time()
    tiny_trainer(f"/tmp/stanley-bench-toy/{sampler}-{seed}", max_steps=iters, limit_val_batches=0,
                 callbacks=[cb]).fit(m, dm)
    seconds = time.time() - t0
    x = m.sample(1000, generator=torch.Generator().manual_seed(123))
    dm.setup("test")
    return {"sampler": sampler, "seed": seed, "kl0": kl0, "curve": cb.curve, "curve_unit_temperature": cb.unit,
            "f_range": cb.f_range,
            "seconds": seconds, "mmd_test": mmd(dm.test_set.x, x), "samples": x[:500].tolist(),
            "diverged_samples": int((~torch.isfinite(x).all(1)).sum())}


def _p_paired(d):
    """Two-sided paired t-test p-value of the differences ``d`` (scipy if present)."""
    try:
        from scipy import stats
        return float(stats.ttest_1samp(d, 0.0).pvalue)
    except ImportError:
        return math.nan


def plot(runs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    colours = {"stanley": "tab:blue", "ula": "tab:orange"}
    for r in runs:
        its, kls = zip(*r["curve"])
        axes[0].plot(its, kls, color=colours[r["sampler"]], alpha=0.8,
                     label=f"{r['sampler']}" if r["seed"] == 0 else None)
    axes[0].set(xlabel="iteration", ylabel="KL(true || exp(f/eps²)), 200x200 grid", title="rings toy",
                yscale="log")
    axes[0].legend()
    for ax, sampler in zip(axes[1:], ("stanley", "ula")):
        run = next((r for r in runs if r["sampler"] == sampler and "samples" in r), None)
        if run is None:  # --summarize from partial results keeps no samples
            ax.set_axis_off()
            continue
        x = torch.tensor(run["samples"])
        ax.scatter(x[:, 0], x[:, 1], s=3)
        ax.set(xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal", title=f"{sampler} samples, seed 0")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--every", type=int, default=250)
    p.add_argument("--th", type=float, default=0.05)
    p.add_argument("--eps", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--tag", default="toy-rings", help="results/<tag>-<machine>.json")
    p.add_argument("--summarize", action="store_true",
                   help="only summarise results/toy-rings-partial-<machine>.json (the runs finished so far)")
    a = p.parse_args()
    t0 = time.time()
    if a.summarize:
        import json
        part = json.loads((RESULTS / f"{a.tag}-partial-{machine()}.json").read_text())
        runs = sorted(part["runs"], key=lambda r: (r["seed"], r["sampler"]))
        a.seeds = sorted({r["seed"] for r in runs if sum(x["seed"] == r["seed"] for x in runs) == 2})
        runs = [r for r in runs if r["seed"] in a.seeds]
        a.__dict__.update({k: v for k, v in part["settings"].items() if k not in ("seeds", "summarize")})
        return finish(runs, a, t0, partial=True)
    jobs = [(s, seed, a.iters, a.k, a.every, a.th, a.eps, a.lr) for seed in a.seeds for s in ("stanley", "ula")]
    runs = []
    with get_context("spawn").Pool(a.procs) as pool:
        for r in pool.imap_unordered(one_run, jobs):  # partial results as runs finish
            runs.append(r)
            write_json(f"{a.tag}-partial", {"settings": vars(a), "runs": [
                {k: v for k, v in x.items() if k != "samples"} for x in runs]})
    runs.sort(key=lambda r: (r["seed"], r["sampler"]))
    finish(runs, a, t0)


def finish(runs, a, t0, partial=False):
    """The paired summary, targets, figure and JSON of finished runs."""
    checkpoints = [c for c in (1000, 2000, 4000) if c <= a.iters] or [a.iters]
    summary, targets = {}, []
    for c in checkpoints:
        at = {(r["sampler"], r["seed"]): dict(r["curve"]).get(c, math.nan) for r in runs}
        d = [at["stanley", s] - at["ula", s] for s in a.seeds]
        summary[str(c)] = {"stanley": [at["stanley", s] for s in a.seeds], "ula": [at["ula", s] for s in a.seeds],
                           "stanley_minus_ula": d, "mean_diff": statistics.mean(d),
                           "seeds_stanley_better": sum(x < 0 for x in d), "paired_t_p": _p_paired(d)}
        targets.append(target(f"KL at {c} iterations: STANLEY minus ULA, mean over {len(d)} seeds",
                              statistics.mean(d), "< 0 (the paper: STANLEY nears the density in the first "
                              "few thousand iterations)", statistics.mean(d) < 0))
        targets.append(target(f"KL at {c} iterations: seeds where STANLEY < ULA", sum(x < 0 for x in d),
                              f">= {math.ceil(2 * len(d) / 3)} of {len(d)}", sum(x < 0 for x in d) >= math.ceil(2 * len(d) / 3)))
    png = RESULTS / f"{a.tag}-{machine()}.png"
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(runs, png)
    for r in runs:
        r.pop("samples", None)
    note = ("summarised from the runs that finished before the benchmark was stopped (--summarize); "
            "seconds: the summarising only") if partial else "complete"
    out = write_json(a.tag, {"settings": vars(a), "note": note, "summary": summary, "runs": runs,
                                   "targets": targets, "seconds": time.time() - t0, "figure": png.name})
    print(out)
    for c, s in summary.items():
        print(c, s)


if __name__ == "__main__":
    main()
