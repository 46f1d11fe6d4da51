"""ODE-LEBM: a latent space energy-based prior over the initial state of a neural ODE, learned
by maximum likelihood with short-run Langevin and no inference network.

Cheng, Kong, Xie, Lee, Wu, Yang, "Latent Space Energy-based Neural ODEs", TMLR 2025
(arXiv 2409.03845), sec. 3:
    u = (z_s, z_d(t0)) ~ p_α(u) ∝ exp(f_α(u)) N(u; 0, σ0² I)          (energy-based prior)
    dz_d/dt = h_θ(z_d, t),  z_d(t_i) = ODESolve(h_θ, z_d(t0), t0 -> t_i)   (latent dynamics)
    x_{t_i} ~ N(g_β(z_s, z_d(t_i)), σ² I)  (or Bernoulli(sigmoid g_β) for frames)   (emission)
Learning (the group's latent-EBM rule, Pang et al. 2020, eq. 4-6): posterior samples
u ~ p(u | x) by Langevin on E(u) = -log p(x | u) + E_α(u) through the ODE solve; prior samples by
Langevin on E_α; generator/ODE ascend log p(x | u_post); α descends f(u_prior) - f(u_post).
``prior="gaussian"`` is the ablation with p(u) = N(0, σ0² I) (no prior learning).
``static_dim=0`` gives the plain model; > 0 the disentangled one.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

import lightning as L
import torch

from latent_ebm.core.priors import EnergyPrior, GaussianPrior
from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule
from latent_ebm.ode_lebm.networks import Activation, LatentODE, ODEFunc
from latent_ebm.ode_lebm.sequence import (
    Batch,
    Likelihood,
    ObsKind,
    build_emission,
    check_batch,
    log_likelihood,
    mean_from_output,
    observed_window,
    prediction_errors,
)

__all__ = ["ODELEBM"]

# Reference step sizes of the group's latent-EBM code (Pang et al. 2020, bpucla/latent-space-EBM-prior):
# posterior 20 steps of 0.1, prior 60 steps of 0.4. Evaluation runs longer chains from noise.
POSTERIOR_LANGEVIN = LangevinSchedule(20, 0.1)
PRIOR_LANGEVIN = LangevinSchedule(60, 0.4)
EVAL_LANGEVIN = LangevinSchedule(100, 0.1)


class ODELEBM(L.LightningModule):
    """ODE-LEBM (and its Gaussian-prior ablation) as a LightningModule.

    Shapes: u (B, static_dim + latent_dim) the initial latent; x (B, T, obs_dim) or
    (B, T, C, H, W); t (T,); mask (B, T).
    """

    # TODO(core): derive from latent_ebm.core.lightning.LatentEBMModule once it exists; the
    # batch here is a dict (x, t, mask) and the energy needs the time grid, see infer().

    def __init__(
        self,
        *,
        obs: ObsKind = "vector",
        obs_dim: int = 1,
        frame_size: int = 16,
        channels: int = 1,
        likelihood: Likelihood = "gaussian",
        obs_sigma: float = 0.3,
        latent_dim: int = 8,
        static_dim: int = 0,
        prior: Literal["ebm", "gaussian"] = "ebm",
        prior_sigma: float = 1.0,
        prior_hidden: int = 200,
        ode_hidden: int = 64,
        ode_layers: int = 2,
        ode_act: Activation = "tanh",
        time_dependent: bool = False,
        ode_method: str = "rk4",
        ode_step_size: float | None = None,
        adjoint: bool = False,
        emission_hidden: int = 64,
        emission_layers: int = 2,
        posterior_langevin: LangevinSchedule = POSTERIOR_LANGEVIN,
        prior_langevin: LangevinSchedule = PRIOR_LANGEVIN,
        eval_langevin: LangevinSchedule = EVAL_LANGEVIN,
        eval_chains: int = 4,
        eval_prediction: Literal["mean", "best"] = "mean",
        persistent_posterior: bool = False,
        n_train: int = 0,
        generator_lr: float = 1e-3,
        prior_lr: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        grad_clip: float | None = 10.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        _check_positive(obs_sigma=obs_sigma, latent_dim=latent_dim, prior_sigma=prior_sigma,
                        eval_chains=eval_chains, generator_lr=generator_lr, prior_lr=prior_lr)
        if static_dim < 0:
            raise ValueError(f"static_dim={static_dim} is invalid; need >= 0 (0: no static latent)")
        if prior not in ("ebm", "gaussian"):
            raise ValueError(f"prior={prior!r} is invalid; allowed: 'ebm', 'gaussian'")
        if likelihood not in ("gaussian", "bernoulli"):
            raise ValueError(f"likelihood={likelihood!r} is invalid; allowed: 'gaussian', 'bernoulli'")
        if eval_prediction not in ("mean", "best"):
            raise ValueError(f"eval_prediction={eval_prediction!r} is invalid; allowed: 'mean', 'best'")
        if persistent_posterior and n_train < 1:
            raise ValueError(f"n_train={n_train} is invalid with persistent_posterior=True; "
                             "give the training set size")
        self.automatic_optimization = False
        # Schedules may arrive as dicts (YAML / checkpoint hparams): coerce once here.
        self.posterior_schedule = as_schedule(posterior_langevin, "posterior_langevin")
        self.prior_schedule = as_schedule(prior_langevin, "prior_langevin")
        self.eval_schedule = as_schedule(eval_langevin, "eval_langevin")
        for name in ("posterior_langevin", "prior_langevin", "eval_langevin"):  # weights_only-safe
            self.hparams[name] = asdict(as_schedule(self.hparams[name], name))
        self.u_dim = static_dim + latent_dim
        self.dynamics = LatentODE(
            ODEFunc(latent_dim, ode_hidden, ode_layers, ode_act, time_dependent),
            method=ode_method, step_size=ode_step_size, adjoint=adjoint)
        self.emission, self.obs_shape = build_emission(
            obs, self.u_dim, obs_dim, frame_size, channels, emission_hidden, emission_layers)
        self.prior = (EnergyPrior(self.u_dim, hidden=prior_hidden, sigma=prior_sigma, schedule=self.prior_schedule)
                      if prior == "ebm" else GaussianPrior(self.u_dim, sigma=prior_sigma))
        # Persistent posterior chains, one per training sequence (warm starts; not in the paper).
        self.register_buffer("chains", torch.zeros(max(n_train, 0), self.u_dim))
        self.register_buffer("chains_seen", torch.zeros(max(n_train, 0), dtype=torch.bool))
        self.rng = torch.Generator().manual_seed(seed)

    # ---- the generative model ------------------------------------------------------------
    def trajectory(self, u: torch.Tensor, t: torch.Tensor, *, check: bool = True) -> torch.Tensor:
        """u (B, S + D) -> z (B, T, S + D): z_s repeated, z_d solved by the ODE from t[0]."""
        zs, zd0 = u.split([self.hparams.static_dim, self.hparams.latent_dim], -1)
        zd = self.dynamics(zd0, t, check=check)  # (B, T, D)
        return torch.cat([zs[:, None].expand(-1, zd.shape[1], -1), zd], -1)

    def decode(self, u: torch.Tensor, t: torch.Tensor, *, check: bool = True) -> torch.Tensor:
        """Emission output (means or logits) at every t: (B, T, *obs_shape)."""
        return self.emission(self.trajectory(u, t, check=check))

    def log_likelihood(self, x: torch.Tensor, t: torch.Tensor, mask: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """log p(x | u) over observed points -> [B]."""
        return log_likelihood(x, self.decode(u, t, check=False), mask, self.hparams.likelihood,
                              self.hparams.obs_sigma)

    def posterior_energy(self, u: torch.Tensor, x: torch.Tensor, t: torch.Tensor,
                         mask: torch.Tensor) -> torch.Tensor:
        """E(u | x) = -log p(x | u) + E_α(u) -> [B]; Langevin on it samples p(u | x)."""
        return -self.log_likelihood(x, t, mask, u) + self.prior.energy(u)

    def sample_prior(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """u ~ p_α(u) by short-run Langevin from N(0, σ0² I) (EBM), or exactly (Gaussian)."""
        gen = generator or self.rng
        if self.hparams.prior == "ebm":
            u0 = self._noise(n, gen)
            return self.prior.sample(n, schedule=self.prior_schedule, u0=u0, generator=gen)
        return self._noise(n, gen)

    def _noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        u = torch.randn(n, self.u_dim, generator=gen) * self.hparams.prior_sigma
        return u.to(self.device)

    # ---- inference -------------------------------------------------------------------------
    def infer(self, x: torch.Tensor, t: torch.Tensor, mask: torch.Tensor, *,
              schedule: LangevinSchedule | None = None, u0: torch.Tensor | None = None,
              n_chains: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """u ~ p(u | x) by Langevin through the ODE solve (Cheng et al. 2025, sec. 3.2).

        With ``n_chains`` > 1 each sequence runs that many chains from N(0, σ0² I) and keeps
        the one of lowest final energy. x (B, T, ...), t (T,), mask (B, T) -> u (B, U).
        """
        u, energy = self.infer_chains(x, t, mask, schedule=schedule, u0=u0, n_chains=n_chains,
                                      generator=generator)
        return u[torch.arange(u.shape[0], device=u.device), energy.argmin(1)]

    def infer_chains(self, x: torch.Tensor, t: torch.Tensor, mask: torch.Tensor, *,
                     schedule: LangevinSchedule | None = None, u0: torch.Tensor | None = None,
                     n_chains: int = 1, generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n_chains`` independent posterior chains per sequence: u (B, K, U) and their final
        energies E(u | x) (B, K). Chains start at ``u0`` (B, U) or from N(0, σ0² I)."""
        if not isinstance(n_chains, int) or n_chains < 1:
            raise ValueError(f"n_chains={n_chains!r} is invalid; need an integer >= 1")
        schedule = schedule or self.posterior_schedule
        gen = generator or self.rng
        b = x.shape[0]
        if n_chains > 1:
            x, mask = x.repeat_interleave(n_chains, 0), mask.repeat_interleave(n_chains, 0)
        if u0 is None:
            u0 = self._noise(x.shape[0], gen)
        elif n_chains > 1:
            u0 = u0.repeat_interleave(n_chains, 0)
        u, info = langevin_from_schedule(lambda v: self.posterior_energy(v, x, t, mask), u0, schedule,
                                         generator=gen, return_info=True)
        return u.view(b, n_chains, -1), info["energy"].detach().view(b, n_chains)

    @torch.no_grad()
    def predict_trajectory(self, batch: Batch, t_query: torch.Tensor | None = None) -> torch.Tensor:
        """Infer u from the observed points (``mask``), integrate to ``t_query`` (default the
        batch's t), decode the observation mean, averaged over the posterior chains
        (``eval_prediction``): (B, T_query, *obs_shape)."""
        return self.analyse(batch, t_query)["pred"]

    @torch.no_grad()
    def ood_score(self, batch: Batch, kind: Literal["prior", "posterior"] = "posterior") -> torch.Tensor:
        """Energy of the inferred latent (higher = more anomalous) -> [B].

        ``prior``: E_α(u_post); ``posterior``: E(u_post | x) per observed point.
        """
        if kind not in ("prior", "posterior"):
            raise ValueError(f"kind={kind!r} is invalid; allowed: 'prior', 'posterior'")
        return self.analyse(batch)[f"score_{kind}"]

    @torch.no_grad()
    def analyse(self, batch: Batch, t_query: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One posterior inference (``eval_langevin``, ``eval_chains`` chains per sequence)
        serving both prediction and OOD scores: {pred (B, T_query, ...), u (B, U) the
        lowest-energy chain, score_prior [B], score_posterior [B]} (scores at that chain).

        ``eval_prediction="mean"``: pred is the posterior predictive mean
        E_{p(u | x_obs)}[g(z_t(u))] estimated over the chains, the prediction that minimises the
        expected squared error; ``"best"``: the decoded lowest-energy chain (a MAP-like point).
        """
        x_all, t, mask_all = check_batch(batch, self.obs_shape)
        # the unobserved tail carries no likelihood: solving the ODE over it would only cost time
        x, t_obs, mask = observed_window(x_all, t, mask_all)
        chains, energy = self.infer_chains(x, t_obs, mask, schedule=self.eval_schedule,
                                           n_chains=self.hparams.eval_chains)
        b, k = energy.shape
        u = chains[torch.arange(b, device=chains.device), energy.argmin(1)]
        tq = t if t_query is None else t_query.to(t)
        if self.hparams.eval_prediction == "mean":
            out = mean_from_output(self.decode(chains.flatten(0, 1), tq), self.hparams.likelihood)
            out = out.view(b, k, *out.shape[1:]).mean(1)
        else:
            out = mean_from_output(self.decode(u, tq), self.hparams.likelihood)
        with torch.enable_grad():  # Lightning may call us under no_grad; energies need none
            post = (self.posterior_energy(u, x, t_obs, mask) / mask.sum(1)).detach()
        return {"pred": out, "u": u, "score_prior": self.prior.energy(u).detach(), "score_posterior": post}

    # ---- learning ----------------------------------------------------------------------------
    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        x, t, mask = check_batch(batch, self.obs_shape)
        opt_g, opt_p = self._optimizers()
        idx = batch.get("index") if self.hparams.persistent_posterior else None
        u0 = self._chain_starts(idx, x.shape[0])
        nfe0 = self.dynamics.nfe
        u_post = self.infer(x, t, mask, u0=u0)
        nfe_post = self.dynamics.nfe - nfe0
        if idx is not None:
            self.chains[idx], self.chains_seen[idx] = u_post, True

        # generator / ODE: ascend log p(x | u_post)  (eq. for ∇_{β,θ} log p(x))
        nll = -self.log_likelihood(x, t, mask, u_post).mean()
        if nll.requires_grad:  # False only when every generator parameter is frozen
            opt_g.zero_grad()
            self.manual_backward(nll)
            if self.hparams.grad_clip:
                self.clip_gradients(opt_g, gradient_clip_val=self.hparams.grad_clip,
                                    gradient_clip_algorithm="norm")
            opt_g.step()
        logs = {"train/nll": nll.detach(), "train/nfe_posterior": float(nfe_post),
                "train/mse": self._mse(x, t, mask, u_post)}

        if opt_p is not None:  # prior: descend f(u_prior) - f(u_post)  (contrastive)
            u_prior = self.sample_prior(x.shape[0])
            loss_p = self.prior.contrastive_loss(u_post, u_prior)
            opt_p.zero_grad()
            self.manual_backward(loss_p)
            opt_p.step()
            logs |= {"train/prior_loss": loss_p.detach(),
                     "train/prior_norm": u_prior.norm(dim=1).mean(), "train/post_norm": u_post.norm(dim=1).mean()}
        self.log_dict(logs, prog_bar=False, on_step=True, on_epoch=False, batch_size=x.shape[0])
        return nll.detach()

    def _chain_starts(self, idx: torch.Tensor | None, b: int) -> torch.Tensor:
        noise = self._noise(b, self.rng)
        if idx is None:
            return noise
        seen = self.chains_seen[idx][:, None]
        return torch.where(seen, self.chains[idx], noise)

    @torch.no_grad()
    def _mse(self, x: torch.Tensor, t: torch.Tensor, mask: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        pred = mean_from_output(self.decode(u, t, check=False), self.hparams.likelihood)
        se = (pred - x).pow(2).flatten(2).mean(-1)
        return (se * mask).sum() / mask.sum()

    def _optimizers(self):
        opts = self.optimizers()
        return (opts[0], opts[1]) if isinstance(opts, list | tuple) else (opts, None)

    def configure_optimizers(self):
        b = tuple(self.hparams.betas)
        gen = torch.optim.Adam(list(self.dynamics.parameters()) + list(self.emission.parameters()),
                               lr=self.hparams.generator_lr, betas=b)
        if self.hparams.prior != "ebm":
            return gen
        return [gen, torch.optim.Adam(self.prior.parameters(), lr=self.hparams.prior_lr, betas=b)]

    # ---- evaluation ----------------------------------------------------------------------------
    def _eval_step(self, batch: Batch, stage: str) -> None:
        pred = self.predict_trajectory(batch)
        errs = prediction_errors(pred, batch)
        self.log_dict({f"{stage}/{k}_mse": v.mean() for k, v in errs.items()},
                      batch_size=pred.shape[0], sync_dist=True)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def predict_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self.predict_trajectory(batch)

    # ---- checkpointing: chains live in buffers; the sampler RNG goes here ----------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["ode_lebm_rng"] = self.rng.get_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "ode_lebm_rng" in checkpoint:
            self.rng.set_state(checkpoint["ode_lebm_rng"])


def as_schedule(value: LangevinSchedule | dict, name: str) -> LangevinSchedule:
    """A LangevinSchedule from itself or from a dict of its fields."""
    if isinstance(value, LangevinSchedule):
        return value
    if isinstance(value, dict):
        return LangevinSchedule(**value)
    raise ValueError(f"{name}={value!r} is invalid; give a LangevinSchedule or a dict of its fields")


def _check_positive(**values: float) -> None:
    for name, v in values.items():
        if not v > 0:
            raise ValueError(f"{name}={v} is invalid; it must be > 0")
