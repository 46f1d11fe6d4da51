"""The renderer and the radiance field on real views with real poses: fit the NeRF synthetic lego scene
(the core registry's ``nerf-lego-train``: 100 views with camera poses) with the latents held fixed,
views 0-89 for training and 90-99 held out, and score PSNR / SSIM on the 10 held-out views.

    python packages/nerf-lebm/benchmarks/bench_lego.py --seeds 0 1 2 [--size 32] [--steps 1200]

The field is the package's ``SceneGenerator`` (GRAF-style conditional NeRF, stratified + hierarchical
samples, the package's renderer) with z_shape = z_app = 0, NeRF's Blender settings (near 2, far 6,
white background), random rays from all training views per step, Adam with an exponential decay.
Baselines, scored on the same 10 views: the mean training image and an all-white image.

Writes ``results/lego-fixed-latent-cpu.{json,png}`` (the PNG: held-out truth above, renders below,
first seed) after every seed; a rerun with other ``--seeds`` adds to the JSON if the settings match.
Targets (computed here): held-out PSNR at least 3 dB above the mean-image predictor's, in the mean
over seeds; the per-view paired t-test (fit vs mean image, 10 views x seeds) significant at 0.01.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from scipy import stats
from torchmetrics.functional.image import structural_similarity_index_measure

from latent_ebm.core.artifacts import save_image_grid
from latent_ebm.nerf_lebm.data import load_lego
from latent_ebm.nerf_lebm.nets import SceneGenerator
from latent_ebm.nerf_lebm.render import focal_from_fov, pixel_grid, rays_from_pixels
from latent_ebm.nerf_lebm.scene import psnr

OUT = Path(__file__).parent / "results"
NAME = "lego-fixed-latent-cpu"
SETTINGS = ("size", "steps", "rays", "samples", "importance", "width", "depth", "lr")


def fit_one(args, seed: int, train_x, train_p, test_x, test_p, focal: float):
    """Train the fixed-latent field with one seed; (renders of the held-out views, seconds)."""
    torch.manual_seed(seed)
    s = args.size
    gen = SceneGenerator(1, 1, width=args.width, depth=args.depth, pe_x=10, pe_d=4, map_hidden=8, near=2.0,
                         far=6.0, n_samples=args.samples, n_importance=args.importance, background=1.0)
    z = torch.zeros(1, 1)
    pix = pixel_grid(s, s)
    o, d = rays_from_pixels(train_p, pix, focal, s, s)  # (90, S*S, 3)
    o, d, rgb = o.reshape(-1, 3), d.reshape(-1, 3), train_x.permute(0, 2, 3, 1).reshape(-1, 3)
    opt = torch.optim.Adam(gen.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.1 ** (i / args.steps))
    g = torch.Generator().manual_seed(seed)
    t0 = time.time()
    for step in range(args.steps):
        idx = torch.randint(0, len(o), (args.rays,), generator=g)
        pred = gen.render_rays(z, z, o[idx][None], d[idx][None], perturb=True, generator=g)[0]
        loss = (pred - rgb[idx]).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"seed {seed} step {step} mse {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
    seconds = time.time() - t0
    with torch.no_grad():
        ot, dt = rays_from_pixels(test_p, pix, focal, s, s)
        renders = torch.cat([gen.render_rays(z, z, ot[i:i + 1], dt[i:i + 1]) for i in range(len(test_p))])
    return renders.reshape(-1, s, s, 3).permute(0, 3, 1, 2).clamp(0, 1), seconds


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--rays", type=int, default=256)
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--importance", type=int, default=16)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--name", default=NAME)
    args = p.parse_args()
    settings = {k: getattr(args, k) for k in SETTINGS}
    images, poses, fov = load_lego(args.size)
    focal = focal_from_fov(args.size, fov)
    train_x, train_p, test_x, test_p = images[:90], poses[:90], images[90:], poses[90:]
    mean_views = psnr(train_x.mean(0, keepdim=True).expand_as(test_x), test_x)
    white_views = psnr(torch.ones_like(test_x), test_x)
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{args.name}.json"
    runs = []
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("settings") == settings:
            runs = [r for r in old["runs"] if r["seed"] not in args.seeds]
    for seed in args.seeds:
        renders, seconds = fit_one(args, seed, train_x, train_p, test_x, test_p, focal)
        views = psnr(renders, test_x)
        ssim = float(structural_similarity_index_measure(renders, test_x, data_range=1.0))
        runs.append({"seed": seed, "train_seconds": round(seconds, 1), "held_out_psnr": float(views.mean()),
                     "held_out_psnr_per_view": views.tolist(), "held_out_ssim": ssim})
        if seed == min(r["seed"] for r in runs):  # the lowest seed's figure (a rerun of others keeps it)
            save_image_grid(torch.cat([test_x, renders]), OUT / f"{args.name}.png", nrow=10, value_range=(0, 1))
        runs.sort(key=lambda r: r["seed"])
        fit = torch.tensor([r["held_out_psnr_per_view"] for r in runs])  # (seeds, 10)
        base = mean_views.expand_as(fit)
        gap = float(fit.mean() - mean_views.mean())
        pv = float(stats.ttest_rel(fit.flatten().numpy(), base.flatten().numpy()).pvalue)
        result = {
            "benchmark": "lego-fixed-latent", "machine": "cpu", "settings": settings,
            "held_out_views": list(range(90, 100)), "n_seeds": len(runs),
            "held_out_psnr_mean": float(fit.mean()),
            "held_out_psnr_seed_std": float(fit.mean(1).std()) if len(runs) > 1 else 0.0,
            "held_out_ssim_mean": sum(r["held_out_ssim"] for r in runs) / len(runs),
            "mean_image_psnr": float(mean_views.mean()), "white_image_psnr": float(white_views.mean()),
            "mean_image_psnr_per_view": mean_views.tolist(), "paired_t_pvalue_vs_mean_image": pv,
            "runs": runs,
            "targets": [
                {"name": "held-out PSNR minus mean-image PSNR (dB), mean over seeds", "value": gap,
                 "goal": ">= 3", "met": bool(gap >= 3 and math.isfinite(gap))},
                {"name": "paired t-test per held-out view, fit vs mean image (p)", "value": pv, "goal": "< 0.01",
                 "met": bool(pv < 0.01 and gap > 0)},
            ],
        }
        path.write_text(json.dumps(result, indent=2))
        print(json.dumps({k: v for k, v in result.items() if k not in ("runs", "mean_image_psnr_per_view")}, indent=2),
              flush=True)


if __name__ == "__main__":
    main()
