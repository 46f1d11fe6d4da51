"""NeRF-LEBM learned by variational inference (learning (ii), the official ``Carla_amortize_inference``).

An encoder q_phi(z | x) = N(mu(x), diag sigma²(x)) over [z_shape, z_app] and the reparameterisation
trick. With the EBM prior p_alpha(z) = exp(f_alpha(z)) N(0, I) / Z(alpha) the negative ELBO is
    -ELBO = -E_q[log p_beta(x | z)] + KL(q || N(0, I)) - E_q[f_alpha(z)] + log Z(alpha)
and grad_alpha log Z = E_{p_alpha}[grad f_alpha], estimated with prior Langevin samples. So one
loss, ``recon + KL - f(z_q) + f(z_prior)`` (z_prior detached), gives every parameter its exact
gradient: beta and phi from the first three terms, alpha from E_{p_alpha}[f] - E_q[f].
Known pose only (the batch's c2w).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from latent_ebm.core.checks import check_int
from latent_ebm.core.lightning import OptimConfig, SeededModule
from latent_ebm.core.nn import gaussian_kl
from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

from .nets import Encoder
from .priors import SceneEnergyPrior, SceneGaussianPrior
from .scene import SceneMixin

__all__ = ["NeRFVAEModule"]

# The official VI code: 60 proper Langevin steps of 0.5 from N(0, I) for the prior; CPU-scaled here.
PRIOR_LANGEVIN = LangevinSchedule(n_steps=20, step_size=0.5)
OPTIM = OptimConfig(lr=1e-3, algorithm="adam", betas=(0.9, 0.999))
PRIOR_OPTIM = OptimConfig(lr=2e-4, algorithm="adam", betas=(0.9, 0.999))


class NeRFVAEModule(SceneMixin, SeededModule):
    """The VI alternative: encoder + the same scene generator and priors as :class:`NeRFLEBMModule`.

    Args: the scene settings of :class:`~latent_ebm.nerf_lebm.scene.SceneMixin` (image_size ...
        turntable_views, ``prior: gaussian`` is a plain VAE; forwarded as ``**scene``),
        encoder_width; groups prior_langevin, optim (generator + encoder), prior_optim; seed.
    """

    def __init__(
        self,
        *,
        encoder_width: int = 32,
        prior_langevin: LangevinSchedule = PRIOR_LANGEVIN,
        optim: OptimConfig = OPTIM,
        prior_optim: OptimConfig = PRIOR_OPTIM,
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = None,
        **scene: Any,
    ) -> None:
        super().__init__(init_noise=init_noise, seed=seed, **scene)
        self.automatic_optimization = False
        self.prior_schedule = self.group(LangevinSchedule, prior_langevin, "prior_langevin")
        self.optim = self.group(OptimConfig, optim, "optim")
        self.prior_optim = self.group(OptimConfig, prior_optim, "prior_optim")
        check_int("encoder_width", encoder_width, low=1)
        h = self.hparams
        self.encoder = Encoder(h.shape_dim + h.app_dim, h.image_size, encoder_width)
        self.prior = (SceneEnergyPrior(h.shape_dim, h.app_dim, hidden_shape=h.prior_hidden_shape,
                                       hidden_app=h.prior_hidden_app, schedule=self.prior_schedule)
                      if h.prior == "ebm" else SceneGaussianPrior(h.shape_dim, h.app_dim))

    @property
    def ebm(self) -> bool:
        return isinstance(self.prior, SceneEnergyPrior)

    def log_potential(self, z: Tensor) -> Tensor:
        """f_s(z_s) + f_a(z_a), (B,) (zero for the Gaussian prior)."""
        if not self.ebm:
            return z.new_zeros(z.shape[0])
        s, a, _ = self.prior.split(z)
        return self.prior.shape_prior.log_potential(s) + self.prior.app_prior.log_potential(a)

    def optimizer_groups(self):
        groups = [(list(self.generator.parameters()) + list(self.encoder.parameters()), self.optim)]
        return groups + [(list(self.prior.parameters()), self.prior_optim)] if self.ebm else groups

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x = self.scene_batch(batch, need_pose=True, subsample=True)
        b = x["image"].shape[0]
        mean, logvar = self.encoder(x["image"])
        eps = self.standard_normal((mean.shape[1],), b, idx=batch.get("index")).to(mean)
        z = mean + (0.5 * logvar).exp() * eps
        z_s, z_a, _ = self.split_latent(z)
        pred = self.generator.render(z_s, z_a, x["pose"], x["pix"], self.focal, self.hparams.image_size)
        recon = -self.gaussian_loglik(x, pred).mean()
        kl = gaussian_kl(mean, logvar).mean()
        loss = recon + kl
        logs = {"train/recon": recon.detach(), "train/kl": kl.detach()}
        if self.ebm:
            u0 = self.standard_normal((z.shape[1],), b, idx=batch.get("index"), stream=2)
            z_prior = langevin_from_schedule(self.prior.energy, u0.to(z), self.prior_schedule, generator=self.rng)
            f_q, f_p = self.log_potential(z).mean(), self.log_potential(z_prior.detach()).mean()
            loss = loss - f_q + f_p
            logs |= {"train/f_q": f_q.detach(), "train/f_prior": f_p.detach()}
        self.iterations += 1
        self.step_optimizers(loss)
        self.log_dict({"train/loss": loss.detach(), **logs}, on_step=True, on_epoch=False, batch_size=b)
        return loss.detach()

    def eval_step(self, batch: Any, stage: str) -> Tensor:
        """z = the encoder's mean for the input view; NLL per pixel channel, reconstruction and
        novel-view metrics."""
        x = self.scene_batch(batch, need_pose=True, subsample=False)
        z = self.encoder(x["image"])[0]
        z_s, z_a, _ = self.split_latent(z)
        pred = self.generator.render(z_s, z_a, x["pose"], x["pix"], self.focal, self.hparams.image_size)
        nll = -self.gaussian_loglik(x, pred).mean() / x["rgb"][0].numel()
        self.log_dict({f"{stage}/nll": nll, **self.view_metrics(z, x, stage)}, batch_size=z.shape[0], sync_dist=True)
        return nll

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        return self.eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> Any:
        return self.eval_step(batch, "test")

    def sample_latents(self, n: int) -> Tensor:
        u0 = self.standard_normal(tuple(self.prior.shape), n, stream=2)
        if not self.ebm:
            return u0
        return langevin_from_schedule(self.prior.energy, u0, self.prior_schedule, generator=self.rng)

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        """Scenes z ~ p(z) rendered on a turntable: (B, V, 3, H, W)."""
        with torch.enable_grad():
            z = self.sample_latents(batch["x"].shape[0])
        return self.render_turntable(z, self.hparams.turntable_views)
