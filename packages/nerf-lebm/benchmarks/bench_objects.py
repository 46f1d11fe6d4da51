"""Procedural objects: NeRF-LEBM's EBM prior against the Gaussian prior (both learned by MCMC) and
the VI alternative, paired over seeds, at the demo's CPU scale (16x16, known pose).

    python packages/nerf-lebm/benchmarks/bench_objects.py [--steps 300] [--seeds 0 1 2]

Per run: train ``--steps`` iterations on 256 objects (one view each); on 64 new test objects infer z
from one view and score reconstruction PSNR and novel-view PSNR / SSIM at 4 held-out poses; render
256 prior samples at random poses and take the Frechet distance to 256 real views in the features of
a small CNN trained to classify shape x colour (the core's FeatureClassifier / frechet_distance).
Writes ``results/<name>-cpu.{json,png}`` after every run (seeds every method finished). Targets: the EBM prior's Frechet distance below the
Gaussian prior's in the mean over seeds; novel-view PSNR >= the mean-image predictor's + 3 dB.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import torch
from scipy import stats

from latent_ebm.core.artifacts import save_image_grid
from latent_ebm.core.metrics import frechet_distance, train_feature_classifier
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.nerf_lebm import NeRFLEBMDataModule, NeRFLEBMModule, NeRFVAEModule
from latent_ebm.nerf_lebm.render import look_at_pose
from latent_ebm.nerf_lebm.scene import psnr
from latent_ebm.nerf_lebm.scenes import PALETTE, RADIUS, make_scenes, random_angles

OUT = Path(__file__).parent / "results"
SIZE, N_TRAIN = 16, 256
SCENE = dict(image_size=SIZE, shape_dim=8, app_dim=8, width=32, depth=3, pe_x=4, pe_d=1, map_hidden=32, n_samples=12,
             rays_per_image=64, obs_sigma=0.1, prior_hidden_shape=32, prior_hidden_app=32,
             prior_langevin=LangevinSchedule(20, 0.5), optim={"lr": 2e-3})


def build(method: str, seed: int):
    if method == "vi-ebm":
        return NeRFVAEModule(**SCENE, prior="ebm", encoder_width=16, seed=seed)
    return NeRFLEBMModule(**SCENE, prior=method.split("-")[1], posterior=LangevinSchedule(8, 0.05),
                          eval_posterior=LangevinSchedule(30, 0.05),
                          chains={"persistent": True, "n_examples": N_TRAIN}, seed=seed)


def features_fd(clf, real: torch.Tensor, fake: torch.Tensor) -> float:
    with torch.no_grad():
        a, b = clf(real * 2 - 1).double(), clf(fake * 2 - 1).double()
    return float(frechet_distance(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T)))


def evaluate(model, dm, clf, real: torch.Tensor, seed: int) -> dict[str, float]:
    model.eval()
    batch = {k: v for k, v in dm.test_set.tensors.items()}
    out: dict[str, list] = {"psnr": [], "novel_psnr": [], "novel_ssim": []}
    for i in range(0, len(batch["x"]), 16):
        b = {k: v[i:i + 16] for k, v in batch.items()}
        x = model.scene_batch(b, need_pose=True, subsample=False)
        if isinstance(model, NeRFVAEModule):
            z = model.encoder(x["image"])[0]
        else:
            with torch.enable_grad():
                z = model.prior.transform(model.infer(x, schedule=model.eval_schedule))
        logs = model.view_metrics(z.detach(), x, "test")
        for k in out:
            out[k].append(float(logs[f"test/{k}"]))
    res = {k: sum(v) / len(v) for k, v in out.items()}
    torch.manual_seed(seed)
    n = len(real)
    z = torch.cat([model.sample_latents(64).detach() for _ in range(n // 64)])
    ang = random_angles(n, torch.Generator().manual_seed(seed + 100))
    z_s, z_a, _ = model.split_latent(z)
    fake = model.render_images(z_s, z_a, look_at_pose(ang[:, 0], ang[:, 1], RADIUS)).clamp(0, 1)
    res["frechet"] = features_fd(clf, real, fake)
    res["samples"] = fake[:16]
    return res


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=["mcmc-ebm", "mcmc-gaussian", "vi-ebm"])
    p.add_argument("--name", default="objects", help="results/<name>-cpu.{json,png}")
    args = p.parse_args()
    # the feature classifier: shape x colour (12 classes) on 3000 fresh objects at random poses
    cs = make_scenes(3000, 1, SIZE, seed=999)
    clf, acc = train_feature_classifier(cs.images[:, 0] * 2 - 1, cs.shape * len(PALETTE) + cs.colour, num_classes=12,
                                        epochs=4, seed=0)
    real = make_scenes(256, 1, SIZE, seed=998).images[:, 0]
    runs: dict[str, list[dict]] = {m: [] for m in args.methods}
    for seed in args.seeds:
        for method in args.methods:
            dm = NeRFLEBMDataModule(image_size=SIZE, n_train=N_TRAIN, n_test=64, held_out_views=4, batch_size=8, seed=seed)
            dm.setup("fit")
            L.seed_everything(seed, verbose=False)
            model = build(method, seed)
            t0 = time.time()
            L.Trainer(max_steps=args.steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, inference_mode=False,
                      limit_val_batches=0).fit(model, dm)
            train_seconds = time.time() - t0
            res = evaluate(model, dm, clf, real, seed)
            res["train_seconds"] = train_seconds
            if seed == args.seeds[0]:
                res["mean_image_psnr"] = float(psnr(dm.train_set.tensors["x"].mean(0, keepdim=True).expand(64 * 4, -1, -1, -1),
                                                    dm.test_set.tensors["views"].flatten(0, 1)).mean())
            runs[method].append(res)
            print(method, seed, {k: round(v, 3) for k, v in res.items() if isinstance(v, float)}, flush=True)
            write(runs, args, acc, real)  # after every run, so a cut-short benchmark leaves its pairs


def write(runs: dict[str, list[dict]], args, acc: float, real: torch.Tensor) -> None:
    """The JSON and PNG from the seeds every method has finished (paired by seed)."""
    done = min(len(rs) for rs in runs.values())
    if done == 0:
        return
    runs = {m: rs[:done] for m, rs in runs.items()}
    mean_img = runs[args.methods[0]][0]["mean_image_psnr"]
    summary = {m: {k: sum(r[k] for r in rs) / len(rs) for k in ("psnr", "novel_psnr", "novel_ssim", "frechet",
                                                                  "train_seconds")} for m, rs in runs.items()}
    result = {"benchmark": "procedural-objects", "machine": "cpu", "image_size": SIZE, "n_train": N_TRAIN,
              "steps": args.steps, "seeds": args.seeds[:done], "classifier_accuracy": acc,
              "mean_image_psnr": mean_img, "summary": summary,
              "runs": {m: [{k: v for k, v in r.items() if k != "samples"} for r in rs] for m, rs in runs.items()}}
    targets = []
    if "mcmc-ebm" in runs and "mcmc-gaussian" in runs:
        fe = [r["frechet"] for r in runs["mcmc-ebm"]]
        fg = [r["frechet"] for r in runs["mcmc-gaussian"]]
        pv = float(stats.ttest_rel(fe, fg).pvalue) if len(fe) > 1 else float("nan")
        result["paired_frechet_ebm_minus_gaussian"] = {"diffs": [a - b for a, b in zip(fe, fg)], "t_test_p": pv}
        targets.append({"name": "Frechet distance, EBM prior minus Gaussian prior (mean over seeds)",
                        "value": sum(fe) / len(fe) - sum(fg) / len(fg), "goal": "< 0",
                        "met": bool(sum(fe) < sum(fg))})
    for m in runs:
        if m in ("mcmc-ebm", "vi-ebm"):
            gain = summary[m]["novel_psnr"] - mean_img
            targets.append({"name": f"{m}: novel-view PSNR minus mean-image PSNR (dB)", "value": gain, "goal": ">= 3",
                            "met": bool(gain >= 3)})
    result["targets"] = targets
    OUT.mkdir(exist_ok=True)
    (OUT / f"{args.name}-cpu.json").write_text(json.dumps(result, indent=2))
    grid = torch.cat([real[:8]] + [runs[m][0]["samples"][:8] for m in runs])
    save_image_grid(grid, OUT / f"{args.name}-cpu.png", nrow=8, value_range=(0, 1))
    print(json.dumps({"summary": summary, "targets": targets}, indent=2), flush=True)


if __name__ == "__main__":
    main()
