"""Figures and disentanglement / inpainting scores of a trained NeRF-LEBM (e.g. the demo's checkpoint),
optionally beside a baseline checkpoint (e.g. the same demo with ``prior: gaussian``) on the same
objects and masks, with paired tests over objects.

    latent-ebm-nerf-lebm fit --config demo --trainer.default_root_dir runs/ebm
    latent-ebm-nerf-lebm fit --config demo --model.init_args.prior gaussian --trainer.default_root_dir runs/gauss
    python packages/nerf-lebm/benchmarks/bench_figures.py --ckpt runs/ebm/.../last.ckpt --baseline runs/gauss/.../last.ckpt

Writes under ``results/``: ``turntable-cpu.png`` (prior samples, one row each, 8 azimuths),
``novel-views-cpu.png`` (per object: the input view, then held-out truth / render pairs),
``swaps-cpu.png`` (row i's z_shape with column j's z_app), ``inpainting-cpu.png`` (masked input,
completion, truth) and ``figures-cpu.json``: swap accuracies (a shape x colour classifier reads the
render of (z_s of i, z_a of j): does the shape follow i and the colour follow j?) and inpainting PSNR
on the hidden square (the pixels the likelihood did not see; z inferred from the visible pixels
only) against the mean-image fill and, with ``--baseline``, against the baseline model's completion.
The classifier reads shape x colour (12 classes) of the procedural objects; the swap scores are
only as good as its held-out accuracy (reported).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
from scipy import stats

from latent_ebm.core.artifacts import save_image_grid
from latent_ebm.core.metrics import train_feature_classifier
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.nerf_lebm import NeRFLEBMModule
from latent_ebm.nerf_lebm.data import occlusion_masks
from latent_ebm.nerf_lebm.render import look_at_pose
from latent_ebm.nerf_lebm.scenes import PALETTE, RADIUS, make_scenes

OUT = Path(__file__).parent / "results"


def infer(model, images, poses, mask=None, steps=30):
    """z from the posterior given one view per object (pixels where ``mask`` is 0 left out)."""
    batch = {"x": images, "pose": poses} | ({"mask": mask} if mask is not None else {})
    x = model.scene_batch(batch, need_pose=True, subsample=False)
    with torch.enable_grad():
        return model.prior.transform(model.infer(x, schedule=LangevinSchedule(steps, 0.05))).detach()


def scores(model, s, mask, clf, pose, steps):
    """Per-object inpainting hole PSNR (n,), the swap renders (n*n, 3, S, S), the completions and the
    swap class reads; z from the first view of each object of ``s``."""
    n, size = s.images.shape[0], model.hparams.image_size
    zt = infer(model, s.images[:, 0], s.poses[:, 0], steps=steps)
    z_s, z_a, _ = model.split_latent(zt)
    ii, jj = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    ii, jj = ii.flatten(), jj.flatten()
    swaps = torch.cat([model.render_images(z_s[ii[k:k + 256]], z_a[jj[k:k + 256]], pose.expand(len(ii[k:k + 256]), -1, -1))
                       for k in range(0, n * n, 256)]).clamp(0, 1)
    with torch.no_grad():
        cls = clf.logits(swaps * 2 - 1).argmax(1)
    shape_pred, colour_pred = cls // len(PALETTE), cls % len(PALETTE)
    off = ii != jj  # swaps proper: the two latents come from different objects
    out = {
        "swap_shape_follows_z_shape": (shape_pred == s.shape[ii])[off].float().mean().item(),
        "swap_shape_follows_z_app": (shape_pred == s.shape[jj])[off].float().mean().item(),
        "swap_colour_follows_z_app": (colour_pred == s.colour[jj])[off].float().mean().item(),
        "swap_colour_follows_z_shape": (colour_pred == s.colour[ii])[off].float().mean().item(),
    }
    zi = infer(model, s.images[:, 0], s.poses[:, 0], mask, steps=steps)
    zi_s, zi_a, _ = model.split_latent(zi)
    fill = model.render_images(zi_s, zi_a, s.poses[:, 0]).clamp(0, 1)
    return out, hole_psnr(fill, s.images[:, 0], mask), fill, swaps.reshape(n, n, 3, size, size)


def hole_psnr(pred, truth, mask):
    """PSNR per image over the pixels where ``mask`` is 0: (n,)."""
    hole = (1 - mask).expand(-1, 3, -1, -1)
    mse = ((pred - truth).square() * hole).flatten(1).sum(1) / hole.flatten(1).sum(1)
    return -10 * torch.log10(mse.clamp_min(1e-10))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--ckpt", required=True)
    p.add_argument("--baseline", help="a second checkpoint scored on the same objects and masks")
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--steps", type=int, default=30, help="posterior Langevin steps for z from one (masked) view")
    p.add_argument("--hole", type=float, default=0.5, help="side of the hidden square, fraction of the image")
    p.add_argument("--name", default="figures")
    args = p.parse_args()
    model = NeRFLEBMModule.load_from_checkpoint(args.ckpt, map_location="cpu").eval()
    size = model.hparams.image_size
    torch.manual_seed(0)
    OUT.mkdir(exist_ok=True)
    files = []
    with torch.enable_grad():
        z = model.sample_latents(6)
    files.append(save_image_grid(model.render_turntable(z, 8).flatten(0, 1), OUT / f"{args.name}-turntable-cpu.png",
                                 nrow=8, value_range=(0, 1)))
    s = make_scenes(args.n, 4, size, seed=12345)
    zt = infer(model, s.images[:, 0], s.poses[:, 0], steps=args.steps)
    z_s, z_a, _ = model.split_latent(zt)
    rows = []
    for i in range(6):
        pred = model.render_images(z_s[i:i + 1].expand(3, -1), z_a[i:i + 1].expand(3, -1), s.poses[i, 1:])
        rows.append(torch.cat([s.images[i, :1], torch.stack([s.images[i, 1:], pred], 1).flatten(0, 1)]))
    files.append(save_image_grid(torch.cat(rows), OUT / f"{args.name}-novel-views-cpu.png", nrow=7, value_range=(0, 1)))
    cs = make_scenes(3000, 1, size, seed=999)
    clf, acc = train_feature_classifier(cs.images[:, 0] * 2 - 1, cs.shape * len(PALETTE) + cs.colour,
                                        num_classes=12, epochs=4, seed=0)
    pose = look_at_pose(torch.tensor([math.radians(40.0)]), torch.tensor([math.radians(30.0)]), RADIUS)
    mask = occlusion_masks(args.n, size, args.hole, 0)  # a random square per object, 0 = hidden
    truth = s.images[:, 0]
    mean_img = make_scenes(256, 1, size, seed=7).images[:, 0].mean(0, keepdim=True).expand_as(truth)
    mean_hole = hole_psnr(mean_img, truth, mask)
    swap, hole, fill, swaps = scores(model, s, mask, clf, pose, args.steps)
    files.append(save_image_grid(swaps[:6, :6].flatten(0, 1), OUT / f"{args.name}-swaps-cpu.png", nrow=6,
                                 value_range=(0, 1)))
    files.append(save_image_grid(torch.cat([(truth * mask)[:8], fill[:8], truth[:8]]),
                                 OUT / f"{args.name}-inpainting-cpu.png", nrow=8, value_range=(0, 1)))
    result = {"benchmark": "figures", "machine": "cpu", "checkpoint": str(args.ckpt), "n_objects": args.n,
              "posterior_steps": args.steps, "hole_fraction": args.hole, "classifier_accuracy": acc, **swap,
              "inpainting_hole_psnr": float(hole.mean()), "inpainting_mean_image_hole_psnr": float(mean_hole.mean()),
              "inpainting_p_vs_mean_image": float(stats.ttest_rel(hole.numpy(), mean_hole.numpy()).pvalue)}
    cs_gap = swap["swap_colour_follows_z_app"] - swap["swap_colour_follows_z_shape"]
    sh_gap = swap["swap_shape_follows_z_shape"] - swap["swap_shape_follows_z_app"]
    gap = result["inpainting_hole_psnr"] - result["inpainting_mean_image_hole_psnr"]
    result["targets"] = [
        {"name": "swap: colour follows z_app minus colour follows z_shape", "value": cs_gap, "goal": "> 0",
         "met": bool(cs_gap > 0)},
        {"name": "swap: shape follows z_shape minus shape follows z_app", "value": sh_gap, "goal": "> 0",
         "met": bool(sh_gap > 0)},
        {"name": "inpainting hole PSNR minus mean-image fill (dB), paired p < 0.05", "value": gap, "goal": "> 0",
         "met": bool(gap > 0 and result["inpainting_p_vs_mean_image"] < 0.05)},
    ]
    if args.baseline:
        base = NeRFLEBMModule.load_from_checkpoint(args.baseline, map_location="cpu").eval()
        bswap, bhole, bfill, _ = scores(base, s, mask, clf, pose, args.steps)
        bgap = float(hole.mean() - bhole.mean())
        result |= {"baseline_checkpoint": str(args.baseline), "baseline_prior": base.hparams.prior,
                   "baseline": {**bswap, "inpainting_hole_psnr": float(bhole.mean())},
                   "inpainting_p_vs_baseline": float(stats.ttest_rel(hole.numpy(), bhole.numpy()).pvalue)}
        result["targets"].append({"name": "inpainting hole PSNR minus the baseline model's (dB)", "value": bgap,
                                  "goal": "> 0", "met": bool(bgap > 0)})
        files.append(save_image_grid(torch.cat([(truth * mask)[:8], fill[:8], bfill[:8], truth[:8]]),
                                     OUT / f"{args.name}-inpainting-cpu.png", nrow=8, value_range=(0, 1)))
    result["files"] = sorted({f.name for f in files})
    (OUT / f"{args.name}-cpu.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
