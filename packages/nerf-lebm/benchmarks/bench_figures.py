"""Figures and disentanglement / inpainting scores of one trained NeRF-LEBM (e.g. the demo's checkpoint).

    latent-ebm-nerf-lebm fit --config demo --trainer.default_root_dir runs/nerf-lebm-demo
    python packages/nerf-lebm/benchmarks/bench_figures.py --ckpt runs/nerf-lebm-demo/checkpoints/version_0/last.ckpt

Writes under ``results/``: ``turntable-cpu.png`` (prior samples, one row each, 8 azimuths),
``novel-views-cpu.png`` (per object: the input view, then held-out truth / render pairs),
``swaps-cpu.png`` (row i's z_shape with column j's z_app), ``inpainting-cpu.png`` (masked input,
completion, truth) and ``figures-cpu.json``: swap accuracies (a shape x colour classifier reads the
render of (z_s of i, z_a of j): does the shape follow i and the colour follow j?) and inpainting PSNR
on the hidden square against the mean-image fill.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from latent_ebm.core.artifacts import save_image_grid
from latent_ebm.core.metrics import train_feature_classifier
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.nerf_lebm import NeRFLEBMModule
from latent_ebm.nerf_lebm.data import occlusion_masks
from latent_ebm.nerf_lebm.render import look_at_pose
from latent_ebm.nerf_lebm.scene import psnr
from latent_ebm.nerf_lebm.scenes import PALETTE, RADIUS, make_scenes

OUT = Path(__file__).parent / "results"


def infer(model, images, poses, mask=None, steps=30):
    batch = {"x": images, "pose": poses} | ({"mask": mask} if mask is not None else {})
    x = model.scene_batch(batch, need_pose=True, subsample=False)
    with torch.enable_grad():
        return model.prior.transform(model.infer(x, schedule=LangevinSchedule(steps, 0.05))).detach()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--ckpt", required=True)
    p.add_argument("--n", type=int, default=32)
    args = p.parse_args()
    model = NeRFLEBMModule.load_from_checkpoint(args.ckpt, map_location="cpu").eval()
    size = model.hparams.image_size
    torch.manual_seed(0)
    OUT.mkdir(exist_ok=True)
    files = []
    with torch.enable_grad():
        z = model.sample_latents(6)
    files.append(save_image_grid(model.render_turntable(z, 8).flatten(0, 1), OUT / "turntable-cpu.png", nrow=8,
                                 value_range=(0, 1)))
    s = make_scenes(args.n, 4, size, seed=12345)
    zt = infer(model, s.images[:, 0], s.poses[:, 0])
    z_s, z_a, _ = model.split_latent(zt)
    rows = []
    for i in range(6):
        pred = model.render_images(z_s[i:i + 1].expand(3, -1), z_a[i:i + 1].expand(3, -1), s.poses[i, 1:])
        rows.append(torch.cat([s.images[i, :1], torch.stack([s.images[i, 1:], pred], 1).flatten(0, 1)]))
    files.append(save_image_grid(torch.cat(rows), OUT / "novel-views-cpu.png", nrow=7, value_range=(0, 1)))
    # swaps: render (z_s of i, z_a of j) at one pose; a shape x colour classifier reads them
    n = args.n
    pose = look_at_pose(torch.tensor([math.radians(40.0)]), torch.tensor([math.radians(30.0)]), RADIUS)
    ii, jj = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    swaps = torch.cat([model.render_images(z_s[ii.flatten()[k:k + 256]], z_a[jj.flatten()[k:k + 256]],
                                           pose.expand(len(ii.flatten()[k:k + 256]), -1, -1))
                       for k in range(0, n * n, 256)]).clamp(0, 1)
    files.append(save_image_grid(swaps.reshape(n, n, 3, size, size)[:6, :6].flatten(0, 1), OUT / "swaps-cpu.png",
                                 nrow=6, value_range=(0, 1)))
    cs = make_scenes(3000, 1, size, seed=999)
    clf, acc = train_feature_classifier(cs.images[:, 0] * 2 - 1, cs.shape * len(PALETTE) + cs.colour,
                                        num_classes=12, epochs=4, seed=0)
    with torch.no_grad():
        cls = clf.logits(swaps * 2 - 1).argmax(1)
    shape_pred, colour_pred = cls // len(PALETTE), cls % len(PALETTE)
    shape_ok = (shape_pred == s.shape[ii.flatten()]).float().mean().item()
    colour_ok = (colour_pred == s.colour[jj.flatten()]).float().mean().item()
    shape_leak = (shape_pred == s.shape[jj.flatten()]).float().mean().item()
    colour_leak = (colour_pred == s.colour[ii.flatten()]).float().mean().item()
    # inpainting: a centred square of half the side hidden from the likelihood
    mask = occlusion_masks(n, size, 0.5, 0)
    zi = infer(model, s.images[:, 0], s.poses[:, 0], mask)
    zi_s, zi_a, _ = model.split_latent(zi)
    fill = model.render_images(zi_s, zi_a, s.poses[:, 0]).clamp(0, 1)
    hole = (1 - mask).expand(-1, 3, -1, -1).bool()
    mean_img = make_scenes(256, 1, size, seed=7).images[:, 0].mean(0, keepdim=True).expand_as(fill)
    truth = s.images[:, 0]

    def hole_psnr(a):
        return float(psnr(a[hole].reshape(n, -1), truth[hole].reshape(n, -1)).mean())

    files.append(save_image_grid(torch.cat([(truth * mask)[:8], fill[:8], truth[:8]]), OUT / "inpainting-cpu.png",
                                 nrow=8, value_range=(0, 1)))
    result = {"benchmark": "figures", "machine": "cpu", "checkpoint": str(args.ckpt), "n_objects": n,
              "classifier_accuracy": acc, "swap_shape_follows_z_shape": shape_ok,
              "swap_colour_follows_z_app": colour_ok, "swap_shape_follows_z_app": shape_leak,
              "swap_colour_follows_z_shape": colour_leak, "inpainting_hole_psnr": hole_psnr(fill),
              "inpainting_mean_image_hole_psnr": hole_psnr(mean_img), "files": [str(f.name) for f in files]}
    result["targets"] = [
        {"name": "swap: colour follows z_app minus colour follows z_shape", "value": colour_ok - colour_leak,
         "goal": "> 0", "met": bool(colour_ok > colour_leak)},
        {"name": "swap: shape follows z_shape minus shape follows z_app", "value": shape_ok - shape_leak,
         "goal": "> 0", "met": bool(shape_ok > shape_leak)},
        {"name": "inpainting hole PSNR minus mean-image fill (dB)",
         "value": result["inpainting_hole_psnr"] - result["inpainting_mean_image_hole_psnr"], "goal": "> 0",
         "met": bool(result["inpainting_hole_psnr"] > result["inpainting_mean_image_hole_psnr"])},
    ]
    (OUT / "figures-cpu.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
