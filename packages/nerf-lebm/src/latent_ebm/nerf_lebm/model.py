"""NeRF-LEBM learned by maximum likelihood with Langevin posterior inference (learning (i)).

Zhu, Xie, Li, "Likelihood-Based Generative Radiance Field with Latent Space Energy-Based Model for
3D-Aware Disentangled Image Representation", AISTATS 2023 (arXiv 2304.07918). The paper's body
could not be read; the terms follow the official code (AlvinZhuyx/NeRF-LEBM) and the abstract:
    priors      p(z_s) ∝ exp(-E_s(z_s)) N(0, I), p(z_a) ∝ exp(-E_a(z_a)) N(0, I)   priors.SceneEnergyPrior
    pose        known (the batch's c2w), or a latent with a uniform prior (azimuth, elevation)
    generator   x = Render(F_beta(. ; z_s, z_a), camera) + eps, eps ~ N(0, sigma² I)   nets.SceneGenerator
    likelihood  log p(x | z) = sum over observed pixels of log N(x_p; C(r_p), sigma² I)  (masked
                pixels drop out: incomplete images)                         SceneMixin.gaussian_loglik
    learning    beta:  E_{p(z|x)}[grad log p_beta(x | z)];  alpha: E_{p(z|x)}[grad f] - E_{p(z)}[grad f]
                with short-run Langevin for p(z | x) and p(z): the core's LatentEBMModule rule
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from latent_ebm.core.checks import check_choice
from latent_ebm.core.lightning import ChainConfig, Diagnostics, LatentEBMModule, OptimConfig
from latent_ebm.core.samplers import LangevinSchedule

from .priors import SceneEnergyPrior, SceneGaussianPrior
from .scene import SceneMixin, psnr

__all__ = ["NeRFLEBMModule"]

# Scaled to CPU (the official MCMC code: 60 posterior steps of 0.1 without noise, 60 prior steps of
# 0.5 with noise 0.01; Adam 1e-4 generator, 2e-5 EBMs, betas (0.9, 0.999)).
POSTERIOR = LangevinSchedule(n_steps=15, step_size=0.05, clip_grad=None)
PRIOR_LANGEVIN = LangevinSchedule(n_steps=20, step_size=0.5)
GENERATOR_OPTIM = OptimConfig(lr=1e-3, algorithm="adam", betas=(0.9, 0.999))
PRIOR_OPTIM = OptimConfig(lr=2e-4, algorithm="adam", betas=(0.9, 0.999))


class NeRFLEBMModule(SceneMixin, LatentEBMModule):
    """A generative radiance field with latent EBM priors on z_shape and z_app.

    Args (model): the scene settings of :class:`~latent_ebm.nerf_lebm.scene.SceneMixin` (image_size
        ... turntable_views, forwarded as ``**scene``), pose (``known``: the batch's poses;
        ``unknown``: a latent with a uniform prior on azimuth and elevation_deg), prior_reference
        (keep the N(0, I) factor; False follows the official MCMC code).
    Args (the core's groups): posterior, prior_langevin, eval_posterior, optim, prior_optim,
        chains, init_noise, seed.
    """

    def __init__(
        self,
        *,
        pose: Literal["known", "unknown"] = "known",
        elevation_deg: tuple[float, float] = (10.0, 60.0),
        prior_reference: bool = True,
        posterior: LangevinSchedule = POSTERIOR,
        prior_langevin: LangevinSchedule = PRIOR_LANGEVIN,
        eval_posterior: LangevinSchedule | None = None,
        optim: OptimConfig = GENERATOR_OPTIM,
        prior_optim: OptimConfig = PRIOR_OPTIM,
        chains: ChainConfig = ChainConfig(),
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = None,
        **scene: Any,
    ) -> None:
        super().__init__(posterior=posterior, prior_langevin=prior_langevin, eval_posterior=eval_posterior,
                         optim=optim, prior_optim=prior_optim, chains=chains, init_noise=init_noise, seed=seed,
                         **scene)
        check_choice("pose", pose, ("known", "unknown"))
        h = self.hparams
        unknown = pose == "unknown"
        self.prior = (SceneEnergyPrior(h.shape_dim, h.app_dim, hidden_shape=h.prior_hidden_shape,
                                       hidden_app=h.prior_hidden_app, pose=unknown, elevation_deg=tuple(elevation_deg),
                                       reference=prior_reference, schedule=self.prior_schedule)
                      if h.prior == "ebm" else SceneGaussianPrior(h.shape_dim, h.app_dim, pose=unknown,
                                                                  elevation_deg=tuple(elevation_deg)))

    # ---- the base's hooks ---------------------------------------------------------------------
    def split_batch(self, batch: Any) -> tuple[dict[str, Tensor], Tensor | None]:
        """x = the likelihood's view of the batch (random ``rays_per_image`` rays while training)."""
        x = self.scene_batch(batch, need_pose=self.hparams.pose == "known", subsample=self.training)
        return x, batch.get("index")

    def log_likelihood(self, x: dict[str, Tensor], z: Tensor) -> Tensor:
        """log p(x | z) (B,): the rendered colours of x's rays under the Gaussian pixel likelihood."""
        z_s, z_a, angles = self.split_latent(z)
        pred = self.generator.render(z_s, z_a, self.camera(x, angles), x["pix"], self.focal, self.hparams.image_size)
        return self.gaussian_loglik(x, pred)

    def generator_parameters(self):
        return self.generator.parameters()

    def eval_step(self, batch: Any, stage: str) -> Tensor:
        """Posterior inference from the one input view, then the NLL, reconstruction PSNR, novel-view
        PSNR / SSIM at the held-out poses and (unknown pose) the pose error."""
        x, idx = self.split_batch(batch)
        diag = Diagnostics()
        with torch.enable_grad():
            u = self.infer(x, schedule=self.eval_schedule, idx=idx, diagnostics=diag)
        z = self.prior.transform(u)
        with torch.no_grad():
            nll = -self.log_likelihood(x, z).mean() / x["rgb"][0].numel()
        logs = {f"{stage}/nll": nll, **self.view_metrics(z, x, stage), **diag.as_dict(f"{stage}/posterior")}
        self.log_dict(logs, batch_size=self.batch_size_of(x["image"]), sync_dist=True)
        return nll

    # ---- what a user looks at -------------------------------------------------------------------
    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        """Scenes z ~ p(z) (prior Langevin) rendered on a turntable: (B, V, 3, H, W)."""
        n = self.batch_size_of(batch["x"] if isinstance(batch, dict) else batch)
        with torch.enable_grad():
            z = self.sample_latents(n)
        return self.render_turntable(z, self.hparams.turntable_views)

    @torch.no_grad()
    def reconstruct(self, batch: dict[str, Tensor], schedule: LangevinSchedule | None = None) -> tuple[Tensor, Tensor]:
        """(z, recon PSNR per image): posterior inference on the full images of ``batch``."""
        x = self.scene_batch(batch, need_pose=self.hparams.pose == "known", subsample=False)
        with torch.enable_grad():
            z = self.prior.transform(self.infer(x, schedule=schedule or self.eval_schedule))
        z_s, z_a, angles = self.split_latent(z)
        return z, psnr(self.render_images(z_s, z_a, self.camera(x, angles)), x["image"])
