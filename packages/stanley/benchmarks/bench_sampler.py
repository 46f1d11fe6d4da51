"""Sampler-only stability map (no training): the fraction of diverging chains and the MMD² to
exact samples after K steps, against the step size s, for ULA, MALA and STANLEY, on
- an ill-conditioned 50-d Gaussian (variances log-spaced from 1e-3 to 1), and
- the 2-d 8-mode mixture of ``data.Toy("mixture")`` (sd 0.15, radius 1.5).
1000 chains from N(0, 2² I), K = 100. All three run through ``stanley.run_chains`` (the package's
path; the core's ``langevin`` underneath) with noise_scale 1 (so they target exp(-E)); STANLEY's
per-coordinate step is s² gamma, gamma = th / max(th, |grad E|), th = 1 (element-wise).
A chain "diverges" if it turns NaN/inf (detected per chain) or leaves |x| < 1e3.

    python packages/stanley/benchmarks/bench_sampler.py            # ~1 minute on a CPU core
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from _common import RESULTS, machine, target, write_json

from latent_ebm.core.metrics import gaussian_mmd
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.stanley.data import Toy
from latent_ebm.stanley.sampler import run_chains

SAMPLERS = ("ula", "mala", "stanley")


def gaussian_target(dim: int = 50):
    var = torch.logspace(-3, 0, dim)
    energy = lambda x: 0.5 * (x.square() / var).sum(1)  # noqa: E731
    exact = lambda n, g: torch.randn(n, dim, generator=g) * var.sqrt()  # noqa: E731
    return energy, exact, dim


def mixture_target():
    toy = Toy("mixture")
    energy = lambda x: -toy.log_prob(x).float()  # noqa: E731
    exact = lambda n, g: toy.sample(n, g).float()  # noqa: E731
    return energy, exact, 2


def run(name, target_fn, steps, n_chains, k, th, seed=0):
    energy, exact, dim = target_fn()
    g = torch.Generator().manual_seed(seed)
    x0 = 2.0 * torch.randn(n_chains, dim, generator=g)
    ref = exact(1000, g)
    rows = []
    for sampler in SAMPLERS:
        for s in steps:
            sched = LangevinSchedule(n_steps=k, step_size=s, noise_scale=1.0, threshold=th)
            x = run_chains(energy, x0, sched, sampler=sampler, generator=torch.Generator().manual_seed(seed + 1))
            ok = torch.isfinite(x).all(1) & (x.abs().amax(1) < 1e3)
            frac = 1.0 - ok.float().mean().item()
            mmd = float(gaussian_mmd(x[ok][:1000], ref)) if ok.sum() >= 10 else math.nan
            rows.append({"target": name, "sampler": sampler, "step": s, "diverged": frac, "mmd": mmd})
            print(f"{name:9s} {sampler:8s} s={s:<6g} diverged={frac:.3f} mmd={mmd:.4f}", flush=True)
    return rows


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = sorted({r["target"] for r in rows})
    fig, axes = plt.subplots(2, len(targets), figsize=(5 * len(targets), 6.5), squeeze=False)
    for j, t in enumerate(targets):
        for sampler in SAMPLERS:
            rs = [r for r in rows if r["target"] == t and r["sampler"] == sampler]
            axes[0, j].plot([r["step"] for r in rs], [r["diverged"] for r in rs], "o-", label=sampler)
            # unbiased MMD² can be slightly negative: floored at 1e-5 for the log axis
            axes[1, j].plot([r["step"] for r in rs], [max(r["mmd"], 1e-5) for r in rs], "o-", label=sampler)
        axes[0, j].set(xscale="log", title=f"{t}: diverged chains", xlabel="step size s", ylabel="fraction")
        axes[1, j].set(xscale="log", yscale="log", title=f"{t}: MMD² to exact samples (floor 1e-5)",
                      xlabel="step size s")
        axes[0, j].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chains", type=int, default=1000)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--th", type=float, default=1.0)
    p.add_argument("--replot", action="store_true", help="redraw the PNG from the JSON only")
    a = p.parse_args()
    if a.replot:
        import json
        plot(json.loads((RESULTS / f"sampler-stability-{machine()}.json").read_text())["rows"],
             RESULTS / f"sampler-stability-{machine()}.png")
        return
    torch.set_num_threads(1)
    t0 = time.time()
    steps = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    rows = run("gauss50", gaussian_target, steps, a.chains, a.k, a.th)
    rows += run("mixture", mixture_target, [0.01, 0.03, 0.1, 0.3, 1.0, 3.0], a.chains, a.k, a.th)

    def largest_stable(t, sampler):
        ok = [r["step"] for r in rows if r["target"] == t and r["sampler"] == sampler and r["diverged"] < 0.01]
        return max(ok) if ok else 0.0

    targets = []
    for t in ("gauss50", "mixture"):
        ula, st = largest_stable(t, "ula"), largest_stable(t, "stanley")
        targets.append(target(f"{t}: largest step with <1% diverged chains, STANLEY / ULA", st / ula if ula else math.inf,
                              ">= 3 (the notes' expectation: STANLEY stays stable at larger steps)", st >= 3 * ula))
    # MMD at the largest step where ULA is still stable: is STANLEY's no worse?
    for t in ("gauss50", "mixture"):
        s = largest_stable(t, "ula")
        m = {r["sampler"]: r["mmd"] for r in rows if r["target"] == t and r["step"] == s}
        targets.append(target(f"{t}: MMD² at ULA's largest stable step s={s}, STANLEY minus ULA",
                              m["stanley"] - m["ula"], "<= 0", m["stanley"] - m["ula"] <= 0))
    png = RESULTS / f"sampler-stability-{machine()}.png"
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(rows, png)
    out = write_json("sampler-stability", {"settings": {"chains": a.chains, "K": a.k, "threshold": a.th,
                                                        "noise_scale": 1.0, "start": "N(0, 4 I)"},
                                           "rows": rows, "targets": targets, "seconds": time.time() - t0,
                                           "figure": png.name})
    print(out, png)


if __name__ == "__main__":
    main()
