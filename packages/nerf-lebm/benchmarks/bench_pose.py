"""Unknown camera pose: NeRF-LEBM trained with (azimuth, elevation) as a latent (``pose: unknown``, uniform
prior, inferred by Langevin with z_shape and z_app), scored by the pose error of single held-out views
against a chance baseline (poses drawn from the prior) on the same views, paired over seeds.

    python packages/nerf-lebm/benchmarks/bench_pose.py [--steps 300] [--seeds 0 1 2] [--restarts 4]

Per seed: train ``--steps`` iterations on 256 procedural objects (one view each, poses never shown),
at the demo's CPU scale (16x16, known-pose benchmark's settings). Then, on 64 new test objects, infer
(z_shape, z_app, azimuth, elevation) from the one view: ``--restarts`` Langevin chains of
``--eval-steps`` steps whose azimuths start in equal sectors, run on 64 random pixels of the view (the
training likelihood's ray subset, for CPU time), the chain of lowest full-image posterior energy kept.

Errors (degrees): elevation |el - el_true|; azimuth |az - az_true| wrapped to [0, 180]. The model's
world frame is identifiable only up to a rotation about the vertical axis (rotating every scene, the
light baked into its radiance field and every camera together leaves all images unchanged), so the
azimuth error is also reported *aligned*: after subtracting one global offset, the circular mean of
az - az_true over 32 separate calibration objects (the val split). Boxes are reported on their own:
spheres have no azimuth cue but the world-fixed light's shading, cylinders only that and their caps; a
box (three free side lengths) also has its geometry, which fixes azimuth modulo 180 degrees, so its
error is also folded to [0, 90]. Chance draws (azimuth, elevation) from the uniform prior for the
same views (and calibration views), with the same alignment. Expected chance errors: azimuth 90,
folded 45, elevation 50/3 = 16.7.

Writes ``results/<name>-cpu.{json,png}`` after every seed. Targets: per seed-mean, the model's error
below chance (aligned box azimuth modulo 180; elevation, all shapes); the paired verdict over seeds
(``latent_ebm.core.metrics.paired_comparison``) and a per-view Wilcoxon test pooled over seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import lightning as L
import torch
from scipy import stats

from latent_ebm.core.artifacts import save_image_grid
from latent_ebm.core.metrics import paired_comparison
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.nerf_lebm import NeRFLEBMDataModule, NeRFLEBMModule
from latent_ebm.nerf_lebm.scene import aligned_pose_errors_deg, psnr
from latent_ebm.nerf_lebm.scenes import SHAPES, random_angles

sys.path.insert(0, str(Path(__file__).parent))
from bench_objects import N_TRAIN, SCENE, SIZE  # noqa: E402  (the known-pose benchmark's scale)

OUT = Path(__file__).parent / "results"
N_TEST, N_CAL = 64, 32


def build(seed: int, eval_steps: int) -> NeRFLEBMModule:
    return NeRFLEBMModule(**SCENE, prior="ebm", pose="unknown", posterior=LangevinSchedule(8, 0.05),
                          eval_posterior=LangevinSchedule(eval_steps, 0.05),
                          chains={"persistent": True, "n_examples": N_TRAIN}, seed=seed)


def infer_pose(model: NeRFLEBMModule, tensors: dict[str, torch.Tensor], restarts: int, seed: int
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(angles (N, 2) radians, reconstruction PSNR (N,), renders (N, 3, H, W)) of the best of ``restarts`` posterior chains."""
    model.eval()
    x = model.scene_batch(tensors, need_pose=False, subsample=False)
    x_sub = model.scene_batch(tensors, need_pose=False, subsample=True)  # rays_per_image random pixels per view
    n = len(tensors["x"])
    g = torch.Generator().manual_seed(seed)
    best_u, best_e = None, torch.full((n,), math.inf)
    ds, da = model.hparams.shape_dim, model.hparams.app_dim
    for k in range(restarts):
        u0 = model.initial_latents(n, generator=g)
        a0 = -math.pi + 2 * math.pi * (k + torch.rand(n, generator=g)) / restarts  # one azimuth sector per chain
        r = u0[:, ds + da:ds + da + 2].norm(dim=1).clamp_min(0.5)
        u0[:, ds + da], u0[:, ds + da + 1] = r * a0.cos(), r * a0.sin()
        with torch.enable_grad():
            u = model.infer(x_sub, schedule=model.eval_schedule, u0=u0, generator=g).detach()
        with torch.no_grad():
            e = model.posterior_energy(u, x)
        better = e < best_e
        best_u = u if best_u is None else torch.where(better[:, None], u, best_u)
        best_e = torch.where(better, e, best_e)
    z = model.prior.transform(best_u)
    z_s, z_a, ang = model.split_latent(z)
    recon = model.render_images(z_s, z_a, model.camera(x, ang))
    return ang.detach(), psnr(recon, tensors["x"]), recon


def summarise(err: dict[str, torch.Tensor], shape: torch.Tensor) -> dict:
    out = {}
    for cls, name in [(None, "all")] + list(enumerate(SHAPES)):
        keep = torch.ones_like(shape, dtype=torch.bool) if cls is None else shape == cls
        out[name] = {k: float(v[keep].mean()) for k, v in err.items() if k != "offset_deg"} | {"n": int(keep.sum())}
    out["offset_deg"] = float(err["offset_deg"])
    return out


METRICS = [("box", "azimuth_aligned_mod180"), ("box", "azimuth_aligned"), ("all", "elevation"),
           ("all", "azimuth_aligned"), ("all", "azimuth_raw"), ("sphere", "azimuth_aligned"),
           ("cylinder", "azimuth_aligned"), ("box", "elevation")]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--restarts", type=int, default=4, help="posterior chains per view (azimuth grid), best kept")
    p.add_argument("--eval-steps", type=int, default=30)
    p.add_argument("--name", default="pose-unknown", help="results/<name>-cpu.{json,png}")
    args = p.parse_args()
    runs, per_view = [], {"model": {}, "chance": {}}
    for seed in args.seeds:
        dm = NeRFLEBMDataModule(image_size=SIZE, n_train=N_TRAIN, n_val=N_CAL, n_test=N_TEST, held_out_views=1,
                                batch_size=8, seed=seed)
        dm.setup("fit")
        L.seed_everything(seed, verbose=False)
        model = build(seed, args.eval_steps)
        t0 = time.time()
        L.Trainer(max_steps=args.steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                  enable_progress_bar=False, enable_model_summary=False, inference_mode=False,
                  limit_val_batches=0).fit(model, dm)
        train_s = time.time() - t0
        test, cal = dm.test_set.tensors, dm.val_set.tensors
        t0 = time.time()
        pred, rec, recon = infer_pose(model, test, args.restarts, seed + 1000)
        cal_pred, _, _ = infer_pose(model, cal, args.restarts, seed + 2000)
        infer_s = time.time() - t0
        g = torch.Generator().manual_seed(seed + 3000)
        chance, cal_chance = random_angles(N_TEST, g), random_angles(N_CAL, g)
        e_model = aligned_pose_errors_deg(pred, test["angles"], cal_pred, cal["angles"])
        e_chance = aligned_pose_errors_deg(chance, test["angles"], cal_chance, cal["angles"])
        for who, e in (("model", e_model), ("chance", e_chance)):
            for cls, key in METRICS:
                keep = torch.ones(N_TEST, dtype=torch.bool) if cls == "all" else test["shape"] == SHAPES.index(cls)
                per_view[who].setdefault(f"{cls}/{key}", []).extend(e[key][keep].tolist())
        runs.append({"seed": seed, "train_seconds": train_s, "infer_seconds": infer_s,
                     "recon_psnr": float(rec.mean()), "model": summarise(e_model, test["shape"]),
                     "chance": summarise(e_chance, test["shape"])})
        print(seed, json.dumps({k: runs[-1][k] for k in ("train_seconds", "infer_seconds", "recon_psnr")}),
              json.dumps({w: {c: {k: round(v, 1) for k, v in runs[-1][w][c].items()} for c in ("all", "box")}
                          for w in ("model", "chance")}), flush=True)
        grid = torch.cat([test["x"][:16], recon[:16].clamp(0, 1)])
        write(runs, per_view, args, grid)


def write(runs: list[dict], per_view: dict, args, grid: torch.Tensor) -> None:
    def values(who: str, cls: str, key: str) -> list[float]:
        return [r[who][cls][key] for r in runs]

    table = {}
    for cls, key in METRICS:
        m, c = values("model", cls, key), values("chance", cls, key)
        row = {"model": sum(m) / len(m), "chance": sum(c) / len(c), "model_per_seed": m, "chance_per_seed": c}
        if len(runs) > 1:
            row["paired_over_seeds"] = paired_comparison(m, c)
        a, b = per_view["model"][f"{cls}/{key}"], per_view["chance"][f"{cls}/{key}"]
        row["per_view_wilcoxon_p"] = float(stats.wilcoxon(a, b).pvalue) if len(a) > 1 else float("nan")
        row["n_views"] = len(a)
        table[f"{cls}/{key}"] = row
    targets = [{"name": f"{name}: model minus chance (degrees, mean over seeds)",
                "value": table[key]["model"] - table[key]["chance"], "goal": "< 0",
                "met": bool(table[key]["model"] < table[key]["chance"])}
               for key, name in [("box/azimuth_aligned_mod180", "box azimuth error, aligned, modulo 180"),
                                 ("all/elevation", "elevation error, all shapes"),
                                 ("all/azimuth_aligned", "azimuth error, aligned, all shapes")]]
    result = {"benchmark": "unknown-pose", "machine": "cpu", "image_size": SIZE, "n_train": N_TRAIN,
              "n_test": N_TEST, "n_calibration": N_CAL, "steps": args.steps, "restarts": args.restarts,
              "eval_steps": args.eval_steps, "seeds": [r["seed"] for r in runs],
              "recon_psnr": sum(r["recon_psnr"] for r in runs) / len(runs), "errors_deg": table, "runs": runs,
              "targets": targets}
    OUT.mkdir(exist_ok=True)
    (OUT / f"{args.name}-cpu.json").write_text(json.dumps(result, indent=2))
    save_image_grid(grid, OUT / f"{args.name}-cpu.png", nrow=16, value_range=(0, 1))
    print(json.dumps({"errors_deg": {k: {"model": round(v["model"], 2), "chance": round(v["chance"], 2)}
                                     for k, v in table.items()}, "targets": targets}, indent=2), flush=True)


if __name__ == "__main__":
    main()
