"""Amortised latent ODE baseline (Rubanova, Chen, Duvenaud, NeurIPS 2019, sec. 3).

q(z0 | x) = N(μ, diag σ²) from an ODE-RNN run backwards in time over the observations
(between observations the hidden state follows its own neural ODE, one RK4 step per grid
interval; at an observed point a GRU cell updates it), z0 ~ q by reparameterisation, the same
neural ODE and emission as ODE-LEBM, and the ELBO
    E_q[log p(x | z0)] - KL(q(z0 | x) || N(0, I))   (Rubanova et al. 2019, eq. 4; Kingma & Welling 2014).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from latent_ebm.core.checks import check_choice, check_int, check_real, require
from latent_ebm.core.lightning import SeededModule
from latent_ebm.core.nn import gaussian_kl
from latent_ebm.ode_lebm.nets import Activation, LatentODE, ODEFunc, mlp
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

__all__ = ["LatentODEVAE", "ODERNNEncoder"]


class FrameFeatures(nn.Module):
    """(N, C, H, W) -> (N, d): two stride-2 convolutions and a linear layer."""

    def __init__(self, channels: int, size: int, d: int, width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.ELU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ELU(), nn.Flatten(),
            nn.Linear(2 * width * (size // 4) ** 2, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ODERNNEncoder(nn.Module):
    """ODE-RNN over (x_i, mask_i) from the last time point to the first -> (μ, log σ²) of z0."""

    def __init__(self, in_dim: int, hidden: int, latent: int, features: nn.Module | None = None) -> None:
        super().__init__()
        self.features = features
        self.gru = nn.GRUCell(in_dim + 1, hidden)
        self.ode = mlp(hidden, hidden, hidden, 1, "tanh")
        self.out = nn.Linear(hidden, 2 * latent)

    def forward(self, x: torch.Tensor, t: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, ...), t (T,), mask (B, T) -> μ, logvar (B, latent)."""
        b, n_t = x.shape[:2]
        if self.features is not None:
            x = self.features(x.flatten(0, 1)).view(b, n_t, -1)
        h = x.new_zeros(b, self.gru.hidden_size)
        for i in range(n_t - 1, -1, -1):
            if i < n_t - 1:  # evolve h from t[i+1] back to t[i]: one RK4 step of dh/dt = ode(h)
                dt = t[i] - t[i + 1]
                k1 = self.ode(h)
                k2 = self.ode(h + 0.5 * dt * k1)
                k3 = self.ode(h + 0.5 * dt * k2)
                k4 = self.ode(h + dt * k3)
                h = h + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            m = mask[:, i : i + 1]
            h = m * self.gru(torch.cat([x[:, i], m], -1), h) + (1 - m) * h
        mu, logvar = self.out(h).chunk(2, -1)
        return mu, logvar.clamp(-10, 5)


class LatentODEVAE(SeededModule):
    """Latent ODE with an ODE-RNN recognition network, trained on the ELBO.

    Shares ODE-LEBM's dynamics/emission settings and batch format. The reparameterisation noise
    comes from the core's per-rank generator (``self.rng``, seeded ``seed + rank``, restored on
    resume).
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
        encoder_hidden: int = 64,
        ode_hidden: int = 64,
        ode_layers: int = 2,
        ode_act: Activation = "tanh",
        time_dependent: bool = False,
        ode_method: str = "rk4",
        ode_step_size: float | None = None,
        adjoint: bool = False,
        emission_hidden: int = 64,
        emission_layers: int = 2,
        lr: float = 1e-3,
        kl_warmup_steps: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(seed=seed)
        self.save_hyperparameters()
        check_real("obs_sigma", obs_sigma, low=0.0, low_open=True)
        check_int("latent_dim", latent_dim, low=1)
        for name, value in (("obs_dim", obs_dim), ("frame_size", frame_size), ("channels", channels),
                            ("encoder_hidden", encoder_hidden), ("ode_hidden", ode_hidden),
                            ("emission_hidden", emission_hidden)):
            check_int(name, value, low=1)
        check_int("ode_layers", ode_layers, low=0)
        check_int("emission_layers", emission_layers, low=0)
        check_int("kl_warmup_steps", kl_warmup_steps, low=0)
        check_real("lr", lr, low=0.0, low_open=True)
        check_choice("likelihood", likelihood, ("gaussian", "bernoulli"))
        self.dynamics = LatentODE(ODEFunc(latent_dim, ode_hidden, ode_layers, ode_act, time_dependent),
                                  method=ode_method, step_size=ode_step_size, adjoint=adjoint)
        self.emission, self.obs_shape = build_emission(obs, latent_dim, obs_dim, frame_size, channels,
                                                       emission_hidden, emission_layers)
        if obs == "frames":
            feats = FrameFeatures(channels, frame_size, encoder_hidden)
            self.encoder = ODERNNEncoder(encoder_hidden, encoder_hidden, latent_dim, feats)
        else:
            self.encoder = ODERNNEncoder(obs_dim, encoder_hidden, latent_dim)

    def decode(self, z0: torch.Tensor, t: torch.Tensor, *, check: bool = True) -> torch.Tensor:
        return self.emission(self.dynamics(z0, t, check=check))

    def elbo(self, x: torch.Tensor, t: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log-likelihood [B], KL [B]) with one reparameterised sample."""
        mu, logvar = self.encoder(x, t, mask)
        eps = torch.randn(mu.shape, generator=self.rng).to(mu)
        z0 = mu + (0.5 * logvar).exp() * eps
        ll = log_likelihood(x, self.decode(z0, t, check=False), mask, self.hparams.likelihood,
                            self.hparams.obs_sigma)
        kl = gaussian_kl(mu, logvar)
        return ll, kl

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        x, t, mask = check_batch(batch, self.obs_shape)
        ll, kl = self.elbo(x, t, mask)
        w = min(1.0, (self.global_step + 1) / self.hparams.kl_warmup_steps) if self.hparams.kl_warmup_steps else 1.0
        loss = -(ll - w * kl).mean()
        self.log_dict({"train/loss": loss.detach(), "train/kl": kl.mean().detach()}, batch_size=x.shape[0])
        return loss

    @torch.no_grad()
    def predict_trajectory(self, batch: Batch, t_query: torch.Tensor | None = None) -> torch.Tensor:
        """Decode the posterior mean z0 = μ(x_observed) at t_query (default the batch's t).

        The encoder reads the observed window only, as in training (Rubanova et al. 2019 encode
        the observed part and decode at the times to predict)."""
        x, t, mask = check_batch(batch, self.obs_shape)
        mu, _ = self.encoder(*observed_window(x, t, mask))
        tq = t if t_query is None else t_query.to(t)
        return mean_from_output(self.decode(mu, tq), self.hparams.likelihood)

    @torch.no_grad()
    def ood_score(self, batch: Batch, kind: str = "posterior") -> torch.Tensor:
        """Negative ELBO per observed point (higher = more anomalous) -> [B]."""
        require("kind", kind, kind == "posterior", "the latent ODE scores by 'posterior' (-ELBO)")
        x, t, mask = observed_window(*check_batch(batch, self.obs_shape))
        ll, kl = self.elbo(x, t, mask)
        return -(ll - kl) / mask.sum(1)

    @torch.no_grad()
    def analyse(self, batch: Batch, t_query: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """{pred, score_posterior}, as ODELEBMModule.analyse."""
        return {"pred": self.predict_trajectory(batch, t_query), "score_posterior": self.ood_score(batch)}

    def _eval_step(self, batch: Batch, stage: str) -> None:
        errs = prediction_errors(self.predict_trajectory(batch), batch)
        self.log_dict({f"{stage}/{k}_mse": v.mean() for k, v in errs.items()},
                      batch_size=batch["x"].shape[0], sync_dist=True)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def predict_step(self, batch: Batch, batch_idx: int) -> dict[str, torch.Tensor]:
        """The forecast at the batch's times with what it came from (``predictions.prediction_record``)."""
        return prediction_record(batch, self.predict_trajectory(batch), self.obs_shape)

    def write_predictions(self, predictions: list[dict[str, torch.Tensor]], out_dir: Path) -> list[Path]:
        """``trajectories.npz`` and ``trajectories.png``, as ODELEBMModule's."""
        return write_trajectories(predictions, out_dir, title="latent ODE (amortised): forecasts")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

