"""What the MCMC model and the VI baseline share: the scene generator, the camera, the batch layout
(pixels, poses, masks), the Gaussian image likelihood, evaluation metrics and the prediction files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics.functional.image import structural_similarity_index_measure

from latent_ebm.core.artifacts import save_image_grid
from latent_ebm.core.checks import check_choice, check_int, check_real, not_allowed, require

from .nets import SceneGenerator
from .render import focal_from_fov, look_at_pose, pixel_grid

__all__ = ["SceneMixin", "aligned_pose_errors_deg", "angle_error_deg", "psnr"]

TURNTABLE_ELEVATION_DEG = 30.0


def psnr(pred: Tensor, target: Tensor) -> Tensor:
    """Peak signal-to-noise ratio (dB) per image of values in [0, 1]: (B, ...) -> (B,)."""
    mse = (pred - target).square().flatten(1).mean(1).clamp_min(1e-10)
    return -10.0 * torch.log10(mse)


class SceneMixin:
    """The settings, camera, likelihood and outputs that the MCMC model and the VI module share.

    Put first among the bases of a LightningModule (``class M(SceneMixin, LatentEBMModule)``): its
    constructor takes the scene settings below, passes everything else on to the next base, saves
    the hyperparameters of the whole constructor chain (Lightning walks the ``__init__`` frames, so
    the subclass's own arguments land in ``hparams`` too), checks them and builds ``self.generator``.
    The subclass forwards them with ``**scene`` and keeps the YAML keys flat
    (``model.init_args.image_size``), which LightningCLI resolves through ``super().__init__``.

    Args: image_size, shape_dim, app_dim (latents), field (``nerf``: GRAF-style MLP with positional
        encoding; ``siren``: pi-GAN FiLM-SIREN), width, depth, pe_x, pe_d, map_hidden,
        sphere_radius (project z onto a sphere of this radius before mapping, official code 30;
        None: off), near, far, n_samples, n_importance (hierarchical samples), fov_deg,
        camera_radius (distance of look-at cameras for the pose latent and the turntable),
        background (grey level behind the scene), obs_sigma (sigma of the pixel likelihood),
        rays_per_image (random rays per image in training; None: all), prior (``ebm`` |
        ``gaussian``), prior_hidden_shape, prior_hidden_app (EBM widths), turntable_views (predict).
    """

    hparams: Any

    def __init__(
        self,
        *,
        image_size: int = 32,
        shape_dim: int = 16,
        app_dim: int = 16,
        field: Literal["nerf", "siren"] = "nerf",
        width: int = 64,
        depth: int = 4,
        pe_x: int = 6,
        pe_d: int = 2,
        map_hidden: int = 64,
        sphere_radius: float | None = None,
        near: float = 7.5,
        far: float = 12.5,
        n_samples: int = 16,
        n_importance: int = 0,
        fov_deg: float = 30.0,
        camera_radius: float = 10.0,
        background: float = 0.0,
        obs_sigma: float = 0.1,
        rays_per_image: int | None = 128,
        prior: Literal["ebm", "gaussian"] = "ebm",
        prior_hidden_shape: int = 64,
        prior_hidden_app: int = 64,
        turntable_views: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters()
        self.check_scene_settings()
        self.generator = self.build_generator()

    def check_scene_settings(self) -> None:
        h = self.hparams
        check_int("image_size", h.image_size, low=4, high=256)
        check_int("shape_dim", h.shape_dim, low=1)
        check_int("app_dim", h.app_dim, low=1)
        check_int("n_samples", h.n_samples, low=2)
        check_int("n_importance", h.n_importance, low=0)
        check_int("rays_per_image", h.rays_per_image, low=1, allow_none=True)
        check_choice("field", h.field, ("nerf", "siren"))
        check_real("obs_sigma", h.obs_sigma, low=0.0, low_open=True)
        check_real("fov_deg", h.fov_deg, low=0.0, high=180.0, low_open=True, high_open=True)
        check_real("near", h.near, low=0.0)
        require("near", h.near, h.near < h.far, f"it must be below far={h.far}")
        check_real("background", h.background, low=0.0, high=1.0)
        check_real("camera_radius", h.camera_radius, low=0.0, low_open=True)
        check_choice("prior", h.prior, ("ebm", "gaussian"))
        check_int("prior_hidden_shape", h.prior_hidden_shape, low=1)
        check_int("prior_hidden_app", h.prior_hidden_app, low=1)
        check_int("turntable_views", h.turntable_views, low=1)

    def build_generator(self) -> SceneGenerator:
        h = self.hparams
        return SceneGenerator(h.shape_dim, h.app_dim, field=h.field, width=h.width, depth=h.depth, pe_x=h.pe_x,
                              pe_d=h.pe_d, map_hidden=h.map_hidden, sphere_radius=h.sphere_radius, near=h.near,
                              far=h.far, n_samples=h.n_samples, n_importance=h.n_importance, background=h.background)

    @property
    def focal(self) -> float:
        return focal_from_fov(self.hparams.image_size, self.hparams.fov_deg)

    # ---- batches ------------------------------------------------------------------------------------
    def scene_batch(self, batch: Any, *, need_pose: bool, subsample: bool) -> dict[str, Tensor]:
        """The likelihood's view of a batch {"x": (B, 3, H, W), "pose"?, "mask"?}: colours ``rgb`` (B, R, 3),
        pixels ``pix`` (B, R, 2), per-ray weights ``weight`` (B, R) (mask x H W / R, so a subset of R
        rays estimates the whole image's log-likelihood), ``pose`` (B, 4, 4) and the full ``image``."""
        if not isinstance(batch, dict) or "x" not in batch:
            raise ValueError("a batch must be a dict with 'x' (B, 3, H, W) and, with known poses, 'pose' (B, 4, 4)")
        x = batch["x"]
        size = self.hparams.image_size
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, size, size):
            raise not_allowed("x", tuple(x.shape), f"images must be (B, 3, {size}, {size}) for image_size={size}")
        pose = batch.get("pose")
        if need_pose and pose is None:
            raise ValueError("pose='known' needs camera poses: give batches with 'pose' (B, 4, 4) "
                             "or use --model.pose unknown")
        b = x.shape[0]
        mask = batch.get("mask")
        mask = torch.ones(b, size * size, dtype=x.dtype, device=x.device) if mask is None else mask.reshape(b, -1).to(x)
        rgb = x.permute(0, 2, 3, 1).reshape(b, -1, 3)
        pix = pixel_grid(size, size, device=x.device, dtype=x.dtype).expand(b, -1, -1)
        r = self.hparams.rays_per_image
        if subsample and r is not None and r < size * size:
            keep = torch.stack([torch.randperm(size * size, generator=self.rng)[:r] for _ in range(b)]).to(x.device)
            rgb, pix, mask = rgb.gather(1, keep[..., None].expand(-1, -1, 3)), pix.gather(1, keep[..., None].expand(-1, -1, 2)), mask.gather(1, keep)
            mask = mask * (size * size / r)
        out = {"rgb": rgb, "pix": pix, "weight": mask, "image": x}
        if pose is not None:
            out["pose"] = pose.to(x)
        for key in ("views", "view_poses", "angles", "view_angles"):
            if key in batch:
                out[key] = batch[key]
        return out

    # ---- the likelihood -----------------------------------------------------------------------------
    def split_latent(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """(z_shape, z_app, (azimuth, elevation) or None) from z (B, ds + da (+ 2))."""
        ds, da = self.hparams.shape_dim, self.hparams.app_dim
        return z[:, :ds], z[:, ds:ds + da], (z[:, ds + da:ds + da + 2] if z.shape[1] > ds + da else None)

    def camera(self, x: dict[str, Tensor], angles: Tensor | None) -> Tensor:
        """c2w (B, 4, 4): the batch's pose, or the pose latent's look-at camera."""
        if angles is not None:
            return look_at_pose(angles[:, 0], angles[:, 1], self.hparams.camera_radius)
        return x["pose"]

    def gaussian_loglik(self, x: dict[str, Tensor], pred: Tensor) -> Tensor:
        """log N(rgb; pred, sigma² I) summed over the weighted rays and channels: (B,)."""
        s = self.hparams.obs_sigma
        sq = (x["rgb"] - pred).square().sum(-1)  # (B, R)
        const = 1.5 * math.log(2 * math.pi * s**2)
        return -(x["weight"] * (sq / (2 * s**2) + const)).sum(-1)

    # ---- images -------------------------------------------------------------------------------------
    @torch.no_grad()
    def render_images(self, z_s: Tensor, z_a: Tensor, c2w: Tensor, chunk: int = 4096) -> Tensor:
        """Full images (B, 3, H, W) of the scenes z_s, z_a under cameras c2w (B, 4, 4)."""
        size = self.hparams.image_size
        pix = pixel_grid(size, size, device=c2w.device, dtype=c2w.dtype)
        parts = [self.generator.render(z_s, z_a, c2w, pix[i:i + chunk], self.focal, size)
                 for i in range(0, len(pix), chunk)]
        return torch.cat(parts, 1).reshape(-1, size, size, 3).permute(0, 3, 1, 2)

    def turntable_poses(self, n_views: int, device=None) -> Tensor:
        az = torch.linspace(-math.pi, math.pi, n_views + 1, device=device)[:-1]
        el = torch.full_like(az, math.radians(TURNTABLE_ELEVATION_DEG))
        return look_at_pose(az, el, self.hparams.camera_radius)

    @torch.no_grad()
    def render_turntable(self, z: Tensor, n_views: int = 8) -> Tensor:
        """(B, V, 3, H, W): each scene of z seen from ``n_views`` azimuths at 30 degrees elevation."""
        z_s, z_a, _ = self.split_latent(z)
        poses = self.turntable_poses(n_views, z.device).to(z)
        b = z.shape[0]
        imgs = self.render_images(z_s.repeat_interleave(n_views, 0), z_a.repeat_interleave(n_views, 0),
                                  poses.repeat(b, 1, 1))
        return imgs.reshape(b, n_views, *imgs.shape[1:])

    @torch.no_grad()
    def view_metrics(self, z: Tensor, x: dict[str, Tensor], stage: str) -> dict[str, Tensor]:
        """Reconstruction PSNR of the input view, and novel-view PSNR / SSIM at the held-out poses
        (``views``, ``view_poses``) with z inferred from the one input view; pose error (degrees)
        of an inferred pose latent against ``angles``."""
        z_s, z_a, angles = self.split_latent(z)
        recon = self.render_images(z_s, z_a, self.camera(x, angles).detach())
        logs = {f"{stage}/psnr": psnr(recon, x["image"]).mean()}
        if "views" in x:
            views, vp = x["views"], x["view_poses"].to(z)
            b, v = views.shape[:2]
            pred = self.render_images(z_s.repeat_interleave(v, 0), z_a.repeat_interleave(v, 0), vp.flatten(0, 1))
            target = views.flatten(0, 1).to(pred)
            logs[f"{stage}/novel_psnr"] = psnr(pred, target).mean()
            logs[f"{stage}/novel_ssim"] = structural_similarity_index_measure(
                pred, target, data_range=1.0, kernel_size=min(7, self.hparams.image_size // 2 * 2 - 1))
        if angles is not None and "angles" in x:
            err = angle_error_deg(angles, x["angles"].to(z))
            logs[f"{stage}/azimuth_error_deg"], logs[f"{stage}/elevation_error_deg"] = err.mean(0).unbind()
        return logs

    def write_predictions(self, predictions: list[Tensor], out_dir: Path) -> list[Path]:
        """``turntable.png``: one row per prior sample, one column per azimuth."""
        frames = torch.cat(predictions)  # (N, V, 3, H, W)
        path = save_image_grid(frames.flatten(0, 1), Path(out_dir) / "turntable.png", nrow=frames.shape[1],
                               value_range=(0.0, 1.0))
        return [path]


def angle_error_deg(pred: Tensor, true: Tensor) -> Tensor:
    """|azimuth difference| wrapped to [0, 180] and |elevation difference|, degrees: (B, 2)."""
    d = pred - true
    daz = torch.atan2(d[:, 0].sin(), d[:, 0].cos()).abs()
    return torch.rad2deg(torch.stack([daz, d[:, 1].abs()], -1))


def aligned_pose_errors_deg(pred: Tensor, true: Tensor, cal_pred: Tensor, cal_true: Tensor) -> dict[str, Tensor]:
    """Pose errors per view (degrees) of inferred (azimuth, elevation) ``pred`` (N, 2, radians) against
    ``true``, with the azimuth also *aligned*: a learned model's world frame is fixed only up to a
    rotation about the vertical axis (rotating every scene and camera together changes no image), so
    one global offset, the circular mean of az - az_true over calibration views (``cal_pred``,
    ``cal_true``), is subtracted first. Returns ``azimuth_raw`` and ``azimuth_aligned`` in [0, 180],
    ``azimuth_aligned_mod180`` in [0, 90] (for objects with a two-fold symmetry), ``elevation``, and
    the 0-dim ``offset_deg``."""
    def wrap(d: Tensor) -> Tensor:
        return torch.rad2deg(torch.atan2(d.sin(), d.cos()))

    d_cal = cal_pred[:, 0] - cal_true[:, 0]
    offset = torch.atan2(d_cal.sin().mean(), d_cal.cos().mean())
    raw = wrap(pred[:, 0] - true[:, 0]).abs()
    aligned = wrap(pred[:, 0] - true[:, 0] - offset).abs()
    return {"azimuth_raw": raw, "azimuth_aligned": aligned, "azimuth_aligned_mod180": torch.minimum(aligned, 180 - aligned),
            "elevation": torch.rad2deg((pred[:, 1] - true[:, 1]).abs()), "offset_deg": torch.rad2deg(offset)}
