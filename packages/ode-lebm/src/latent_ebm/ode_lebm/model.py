"""ODE-LEBM: a latent space energy-based prior over the initial state of a neural ODE, learned
by maximum likelihood with short-run Langevin and no inference network.

Cheng, Kong, Xie, Lee, Wu, Yang, "Latent Space Energy-based Neural ODEs", TMLR 2025
(arXiv 2409.03845). Only the paper's abstract could be read, not its body, so no equation or
section number is cited: each docstring names the term of the model it implements, and the
README's equation table maps every term to its code.
    u = (z_s, z_d(t0)) ~ p_α(u) ∝ exp(f_α(u)) N(u; 0, σ0² I)          (energy-based prior)
    dz_d/dt = h_θ(z_d, t),  z_d(t_i) = ODESolve(h_θ, z_d(t0), t0 -> t_i)   (latent dynamics)
    x_{t_i} ~ N(g_β(z_s, z_d(t_i)), σ² I)  (or Bernoulli(sigmoid g_β) for frames)   (emission)
Learning (the group's latent-EBM rule, Pang et al. 2020, eq. 4-6): posterior samples
u ~ p(u | x) by Langevin on E(u) = -log p(x | u) + E_α(u) through the ODE solve; prior samples by
Langevin on E_α; generator/ODE ascend log p(x | u_post); α descends f(u_prior) - f(u_post).
``prior="gaussian"`` is the ablation with p(u) = N(0, σ0² I) (no prior learning).
``static_dim=0`` gives the plain model; > 0 the disentangled one (Cheng et al. 2025's static
factor z_s, time-invariant, and dynamic state z_d, the only part the ODE moves).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from latent_ebm.core.checks import check_choice, check_int, check_real
from latent_ebm.core.lightning import ChainConfig, LatentEBMModule, OptimConfig
from latent_ebm.core.priors import EnergyPrior, GaussianPrior
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.ode_lebm.nets import Activation, LatentODE, ODEFunc
from latent_ebm.ode_lebm.predictions import prediction_record, write_trajectories
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

__all__ = ["ODELEBMModule"]

# Reference step sizes of the group's latent-EBM code (Pang et al. 2020, bpucla/latent-space-EBM-prior):
# posterior 20 steps of 0.1, prior 60 steps of 0.4. Evaluation runs longer chains from noise.
POSTERIOR_LANGEVIN = LangevinSchedule(20, 0.1)
PRIOR_LANGEVIN = LangevinSchedule(60, 0.4)
EVAL_LANGEVIN = LangevinSchedule(100, 0.1)
# Adam with the group's betas (0.5, 0.999); grad-norm clip 10 on both networks (ours: the ODE's
# gradients through long solves spike early in training).
GENERATOR_OPTIM = OptimConfig(lr=1e-3, algorithm="adam", betas=(0.5, 0.999), grad_clip=10.0)
PRIOR_OPTIM = OptimConfig(lr=1e-4, algorithm="adam", betas=(0.5, 0.999), grad_clip=10.0)


class ODELEBMModule(LatentEBMModule):
    """ODE-LEBM (and its Gaussian-prior ablation) on the core's :class:`LatentEBMModule`.

    The core runs the learning rule (posterior and prior Langevin, one update of both
    optimisers, persistent chains, per-rank sampler RNG in checkpoints); this class supplies the
    ODE generative model. An observation ``obs`` is a batch dict (see ``sequence``): x (B, T,
    obs_dim) or (B, T, C, H, W), t (T,), mask (B, T); u (B, static_dim + latent_dim) is the
    initial latent.

    Args beyond the core's: ``eval_chains`` posterior chains per sequence at evaluation and
    ``eval_prediction`` how they make a prediction (see :meth:`analyse`). The core's groups:
    ``posterior`` / ``prior_langevin`` / ``eval_posterior`` are the Langevin settings of
    learning, prior sampling and evaluation; ``optim`` / ``prior_optim`` the generator's (ODE and
    emission) and the prior's optimisers; ``chains`` persistent posterior chains, which
    warm-start each sequence's chain from its last visit (not in the paper).
    """

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
        posterior: LangevinSchedule = POSTERIOR_LANGEVIN,
        prior_langevin: LangevinSchedule = PRIOR_LANGEVIN,
        eval_posterior: LangevinSchedule = EVAL_LANGEVIN,
        eval_chains: int = 4,
        eval_prediction: Literal["mean", "best"] = "mean",
        optim: OptimConfig = GENERATOR_OPTIM,
        prior_optim: OptimConfig = PRIOR_OPTIM,
        chains: ChainConfig = ChainConfig(),
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = 0,
    ) -> None:
        super().__init__(posterior=posterior, prior_langevin=prior_langevin, eval_posterior=eval_posterior,
                         optim=optim, prior_optim=prior_optim, chains=chains, init_noise=init_noise, seed=seed)
        self.save_hyperparameters()
        check_real("obs_sigma", obs_sigma, low=0.0, low_open=True)
        check_real("prior_sigma", prior_sigma, low=0.0, low_open=True)
        check_int("latent_dim", latent_dim, low=1)
        check_int("static_dim", static_dim, low=0)
        check_int("eval_chains", eval_chains, low=1)
        for name, value in (("obs_dim", obs_dim), ("frame_size", frame_size), ("channels", channels),
                            ("prior_hidden", prior_hidden), ("ode_hidden", ode_hidden),
                            ("emission_hidden", emission_hidden)):
            check_int(name, value, low=1)
        check_int("ode_layers", ode_layers, low=0)
        check_int("emission_layers", emission_layers, low=0)
        check_choice("prior", prior, ("ebm", "gaussian"))
        check_choice("likelihood", likelihood, ("gaussian", "bernoulli"))
        check_choice("eval_prediction", eval_prediction, ("mean", "best"))
        self.u_dim = static_dim + latent_dim
        self.dynamics = LatentODE(
            ODEFunc(latent_dim, ode_hidden, ode_layers, ode_act, time_dependent),
            method=ode_method, step_size=ode_step_size, adjoint=adjoint)
        self.emission, self.obs_shape = build_emission(
            obs, self.u_dim, obs_dim, frame_size, channels, emission_hidden, emission_layers)
        # p_α(u) ∝ exp(f_α(u)) N(u; 0, σ0² I), Cheng et al. 2025's energy-based prior (core's EnergyPrior)
        self.prior = (EnergyPrior(self.u_dim, hidden=prior_hidden, sigma=prior_sigma, schedule=self.prior_schedule)
                      if prior == "ebm" else GaussianPrior(self.u_dim, sigma=prior_sigma))
        self._infer_nfe = 0  # solver evaluations of the last single-chain inference (logged)

    # ---- the generative model ------------------------------------------------------------
    def trajectory(self, u: torch.Tensor, t: torch.Tensor, *, check: bool = True) -> torch.Tensor:
        """u (B, S + D) -> z (B, T, S + D): z_s repeated, z_d(t_i) = ODESolve(h_θ, z_d(t0), t0 -> t_i)
        from t0 = t[0] (Cheng et al. 2025: latent dynamics; the disentangled variant's static z_s)."""
        zs, zd0 = u.split([self.hparams.static_dim, self.hparams.latent_dim], -1)
        zd = self.dynamics(zd0, t, check=check)  # (B, T, D)
        return torch.cat([zs[:, None].expand(-1, zd.shape[1], -1), zd], -1)

    def decode(self, u: torch.Tensor, t: torch.Tensor, *, check: bool = True) -> torch.Tensor:
        """Emission g_β(z_s, z_d(t_i)) at every t (Cheng et al. 2025: neural emission model): means
        or logits, (B, T, *obs_shape)."""
        return self.emission(self.trajectory(u, t, check=check))

    def log_likelihood(self, obs: Batch, z: torch.Tensor) -> torch.Tensor:
        """log p_β(x | u) = Σ_i log N(x_{t_i}; g_β(z(t_i)), σ² I) over the observed points
        (``obs["mask"]``) -> [B] (Cheng et al. 2025: emission model; Bernoulli for frames is ours)."""
        return log_likelihood(obs["x"], self.decode(z, obs["t"], check=False), obs["mask"],
                              self.hparams.likelihood, self.hparams.obs_sigma)

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.dynamics.parameters()) + list(self.emission.parameters())

    def observation(self, batch: Batch) -> Batch:
        """The checked {x, t (T,), mask} of a batch (``sequence.check_batch``'s errors)."""
        x, t, mask = check_batch(batch, self.obs_shape)
        return {"x": x, "t": t, "mask": mask}

    def split_batch(self, batch: Batch) -> tuple[Batch, torch.Tensor | None]:
        return self.observation(batch), batch.get("index")

    # ---- inference -------------------------------------------------------------------------
    def infer(self, batch: Batch, *, schedule: LangevinSchedule | None = None, u0: torch.Tensor | None = None,
              n_chains: int = 1, generator: torch.Generator | None = None, idx: torch.Tensor | None = None,
              diagnostics: Any = None) -> torch.Tensor:
        """u ~ p(u | x) by Langevin on E(u | x) = -log p_β(x | u) + E_α(u), back-propagating
        through the ODE solve (Cheng et al. 2025: posterior sampling by MCMC, no inference
        network), on the points ``batch["mask"]`` marks: (B, U).

        With ``n_chains`` > 1 each sequence runs that many chains and keeps the one of lowest
        final energy E(u | x).
        """
        if n_chains != 1:
            u, energy = self.infer_chains(batch, schedule=schedule, u0=u0, n_chains=n_chains, generator=generator)
            return u[torch.arange(u.shape[0], device=u.device), energy.argmin(1)]
        obs = self.observation(batch)
        nfe0 = self.dynamics.nfe
        u = super().infer(obs, schedule=schedule, u0=u0, generator=generator, idx=idx, diagnostics=diagnostics)
        self._infer_nfe = self.dynamics.nfe - nfe0
        return u

    def infer_chains(self, batch: Batch, *, schedule: LangevinSchedule | None = None,
                     u0: torch.Tensor | None = None, n_chains: int = 1,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``n_chains`` independent posterior chains per sequence: u (B, K, U) and their final
        energies E(u | x) (B, K). Chains start at ``u0`` (B, U), else from N(0, σ0² I)."""
        check_int("n_chains", n_chains, low=1)
        obs = self.observation(batch)
        b = obs["x"].shape[0]
        if n_chains > 1:
            obs = {"x": obs["x"].repeat_interleave(n_chains, 0), "t": obs["t"],
                   "mask": obs["mask"].repeat_interleave(n_chains, 0)}
            u0 = None if u0 is None else u0.repeat_interleave(n_chains, 0)
        u = super().infer(obs, schedule=schedule, u0=u0, generator=generator)
        with torch.no_grad():
            energy = self.posterior_energy(u, obs)
        return u.view(b, n_chains, -1), energy.view(b, n_chains)

    @torch.no_grad()
    def predict_trajectory(self, batch: Batch, t_query: torch.Tensor | None = None) -> torch.Tensor:
        """Infer u from the observed points (``mask``), integrate to ``t_query`` (default the
        batch's t), decode the observation mean, averaged over the posterior chains
        (``eval_prediction``): (B, T_query, *obs_shape). Cheng et al. 2025's interpolation and
        extrapolation; averaging over chains is ours."""
        return self.analyse(batch, t_query)["pred"]

    @torch.no_grad()
    def ood_score(self, batch: Batch, kind: Literal["prior", "posterior"] = "posterior") -> torch.Tensor:
        """Energy of the inferred latent (higher = more anomalous) -> [B]. Cheng et al. 2025 detect
        OOD sequences by energy; which energy could not be read, these two scores are ours.

        ``prior``: E_α(u_post); ``posterior``: E(u_post | x) per observed point.
        """
        check_choice("kind", kind, ("prior", "posterior"))
        return self.analyse(batch)[f"score_{kind}"]

    @torch.no_grad()
    def analyse(self, batch: Batch, t_query: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One posterior inference (``eval_posterior``, ``eval_chains`` chains per sequence)
        serving both prediction and OOD scores: {pred (B, T_query, ...), u (B, U) the
        lowest-energy chain, score_prior [B], score_posterior [B]} (scores at that chain).

        ``eval_prediction="mean"``: pred is the posterior predictive mean
        E_{p(u | x_obs)}[g(z_t(u))] estimated over the chains, the prediction that minimises the
        expected squared error; ``"best"``: the decoded lowest-energy chain (a MAP-like point).
        """
        x_all, t, mask_all = check_batch(batch, self.obs_shape)
        # the unobserved tail carries no likelihood: solving the ODE over it would only cost time
        x, t_obs, mask = observed_window(x_all, t, mask_all)
        obs = {"x": x, "t": t_obs, "mask": mask}
        chains, energy = self.infer_chains(obs, schedule=self.eval_schedule, n_chains=self.hparams.eval_chains)
        b, k = energy.shape
        best = energy.argmin(1)
        u = chains[torch.arange(b, device=chains.device), best]
        tq = t if t_query is None else t_query.to(t)
        if self.hparams.eval_prediction == "mean":
            out = mean_from_output(self.decode(chains.flatten(0, 1), tq), self.hparams.likelihood)
            out = out.view(b, k, *out.shape[1:]).mean(1)
        else:
            out = mean_from_output(self.decode(u, tq), self.hparams.likelihood)
        post = energy[torch.arange(b, device=energy.device), best] / mask.sum(1)
        return {"pred": out, "u": u, "score_prior": self.prior.energy(u), "score_posterior": post}

    # ---- learning: the core's training_step; what it logs beside the losses ----------------------
    def training_logs(self, obs: Batch, u_post: torch.Tensor, u_prior: torch.Tensor | None) -> dict:
        logs = {"train/nfe_posterior": float(self._infer_nfe), "train/mse": self._mse(obs, u_post)}
        if u_prior is not None:
            logs |= {"train/prior_norm": u_prior.norm(dim=1).mean(), "train/post_norm": u_post.norm(dim=1).mean()}
        return logs

    @torch.no_grad()
    def _mse(self, obs: Batch, u: torch.Tensor) -> torch.Tensor:
        pred = mean_from_output(self.decode(u, obs["t"], check=False), self.hparams.likelihood)
        se = (pred - obs["x"]).pow(2).flatten(2).mean(-1)
        return (se * obs["mask"]).sum() / obs["mask"].sum()

    # ---- evaluation ----------------------------------------------------------------------------
    def eval_step(self, batch: Batch, stage: str) -> None:
        """Interpolation and extrapolation MSE of the posterior predictive (:meth:`analyse`)."""
        pred = self.predict_trajectory(batch)
        errs = prediction_errors(pred, batch)
        self.log_dict({f"{stage}/{k}_mse": v.mean() for k, v in errs.items()},
                      batch_size=pred.shape[0], sync_dist=True)

    def predict_step(self, batch: Batch, batch_idx: int) -> dict[str, torch.Tensor]:
        """The forecast at the batch's times with what it came from (``predictions.prediction_record``)."""
        return prediction_record(batch, self.predict_trajectory(batch), self.obs_shape)

    def write_predictions(self, predictions: list[dict[str, torch.Tensor]], out_dir: Path) -> list[Path]:
        """``trajectories.npz`` (pred, x, t, mask, extrap_mask) and ``trajectories.png`` (the
        first sequences: observed points, truth, prediction, the observed window's end)."""
        name = "ODE-LEBM" if self.hparams.prior == "ebm" else "ODE-LEBM, Gaussian prior"
        return write_trajectories(predictions, out_dir, title=f"{name}: forecasts")
