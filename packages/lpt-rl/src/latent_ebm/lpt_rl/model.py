"""Latent Plan Transformer (Kong, Xu, Zhao, Pang, Xie, Lizarraga, Huang, Xie, Wu, NeurIPS 2024,
arXiv 2402.04647): planning as inference in the latent space of a trajectory generator.

Model (paper Sec. 3.1): p(z0) p_beta(tau | z) p_gamma(y | z), z = U_alpha(z0), z0 ~ N(0, I)
    U_alpha     the core's ``UNetPrior``: z0 (1, n_latent * d) is ONE 1-channel signal through
                a 1-d UNet, reshaped to n_latent tokens of width d (the code's ``unet_forward``)
    p_beta      ``nets.TrajectoryPolicy``: N(a_t; g(s_{<=t}, a_{<t}, z), 1 / action_precision),
                a causal Transformer with a sliding window of ``context`` tokens (the paper's
                finite-context sub-trajectory terms of Eq. 5 = the sum over t of these terms)
    p_gamma     N(y; r_gamma(z), 1 / return_precision), y = episode return / return_scale
Learning (Eq. 4): grad log p(tau, y) = E_{p(z0 | tau, y)}[grad log p_beta(tau | z) + grad log
    p_gamma(y | z)]; z0 ~ p(z0 | tau, y) by Langevin (Eq. 5) on
    E(z0) = |z0|²/2 - log p_beta(tau | U(z0)) - log p_gamma(y | U(z0)), with one persistent chain
    per training trajectory (the core's ``chains``), warm-started on each visit.
Planning (Eqs. 6-7): z0 ~ p(z0 | y*) ∝ N(z0; 0, I) p_gamma(y* | U(z0))^w by Langevin (w = 1:
    LPT, w > 1: LPT-EI), once per episode; the policy then acts with that z.

Decisions on the official code's quirks (numbered as in the notes ``papers/lpt-rl.md`` Sec. 7):
 1. Inference reads the action likelihood at the STATE tokens, as training does (the code's
    Langevin reads the action-token outputs, which have seen a_t).
 2. Acting feeds s_1, a_1, ..., s_t and reads a_t at s_t (no off-by-one zero action).
 3. Planning starts from N(0, I) (the code starts at a within-batch index ``z_best_idx``).
 4. Chains are the core's per-example store: checkpointed, resumed exactly, gathered under DDP.
 5. Posterior steps: 3 as the code (``posterior.n_steps``; the paper says 2).
 6. Attention is SDPA with a band mask (no flash-attn); scale 1/sqrt(head dim), not the code's 1.0.
 7. No file layout is involved.
 9. Connect Four (no code released): actions are 2 onehot - 1 over the 7 columns under the same
    Gaussian/tanh head; the environment plays the legal column with the highest output
    (``connect4.py``). A categorical head would be the other reading; this one keeps one model.
 8. Training length is set in steps/epochs by the Trainer, not scaled by the trajectory count.
Energies follow the code: sums of squares without 1/2, i.e. action and return precision 2; the
code's training loss is the masked mean action MSE + 0.25 x return MSE (``return_weight``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from latent_ebm.core.checks import check_choice, check_int, check_real, not_allowed
from latent_ebm.core.lightning import ChainConfig, Diagnostics, LatentEBMModule, OptimConfig
from latent_ebm.core.priors import GaussianPrior, UNetPrior
from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

from .envs import env_spec, normalized_score, rollout
from .nets import ReturnMLP, TrajectoryPolicy

__all__ = ["OPTIM", "PLAN", "POSTERIOR", "LPTRLModule"]

POSTERIOR = LangevinSchedule(n_steps=3, step_size=0.3)  # the code's infer_z: 3 iterations, s = 0.3
PLAN = LangevinSchedule(n_steps=20, step_size=0.3)  # the code's infer_z_given_y: 20 steps, s = 0.3
# The code's optimiser: AdamW, weight decay 1e-4, grad clip 0.25; lr 1e-3 (maze2d/antmaze/kitchen;
# 1e-4 for locomotion, in paper.yaml). Its warm-up ratio 0.1 + linear decay is not reproduced.
OPTIM = OptimConfig(lr=1e-3, algorithm="adamw", weight_decay=1e-4, grad_clip=0.25)


class LPTRLModule(LatentEBMModule):
    """The Latent Plan Transformer on an offline RL dataset (batches from ``LPTRLDataModule``).

    Args (model): env (sizes, action bound, return scale, default y*, scores: ``envs.ENVS``),
        d_model (hidden; latent tokens have this width), n_layers, n_heads, context (K, tokens in
        the attention window), n_latent (latent tokens; z0 has n_latent * d_model coordinates),
        dropout, prior (``unet``: z = U(z0), the paper's; ``gaussian``: z = z0, the paper's
        no-UNet ablation of Tab. 9), unet_base, unet_multipliers (the UNet prior), return_hidden, return_dropout (the
        return MLP), action_precision, return_precision (1 / variance of p_beta and p_gamma;
        the code's sums of squares give 2), return_weight (on the return MSE in the parameter
        loss; code 0.25), target_return (y*, raw return; None: the env's default), plan_weight
        (w of Eq. 7), val_episodes, test_episodes (evaluation rollouts after validation / test).
    Args (the core's groups): posterior (learning), eval_posterior (validation), plan (planning
        Langevin), optim, chains (persistent per-trajectory chains), init_noise, seed.
    """

    def __init__(
        self,
        *,
        env: str = "chain",
        d_model: int = 128,
        n_layers: int = 3,
        n_heads: int = 1,
        context: int = 64,
        n_latent: int = 4,
        dropout: float = 0.1,
        prior: Literal["unet", "gaussian"] = "unet",
        unet_base: int = 16,
        unet_multipliers: tuple[int, ...] = (1, 2, 4, 8),
        return_hidden: tuple[int, ...] = (100, 100),
        return_dropout: float = 0.3,
        action_precision: float = 2.0,
        return_precision: float = 2.0,
        return_weight: float = 0.25,
        target_return: float | None = None,
        plan_weight: float = 1.0,
        val_episodes: int = 0,
        test_episodes: int = 10,
        posterior: LangevinSchedule = POSTERIOR,
        eval_posterior: LangevinSchedule | None = None,
        plan: LangevinSchedule = PLAN,
        optim: OptimConfig = OPTIM,
        chains: ChainConfig = ChainConfig(),
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = 42,  # the code's seed
    ) -> None:
        super().__init__(posterior=posterior, prior_langevin=None, eval_posterior=eval_posterior, optim=optim,
                         chains=chains, init_noise=init_noise, seed=seed)
        self.save_hyperparameters()
        self.spec = env_spec(env)
        for name, value in (("d_model", d_model), ("n_layers", n_layers), ("n_heads", n_heads),
                            ("context", context), ("n_latent", n_latent), ("unet_base", unet_base)):
            check_int(name, value, low=1)
        for name, value in (("val_episodes", val_episodes), ("test_episodes", test_episodes)):
            check_int(name, value, low=0)
        check_real("dropout", dropout, low=0.0, high=1.0, high_open=True)
        for name, value in (("action_precision", action_precision), ("return_precision", return_precision)):
            check_real(name, value, low=0.0, low_open=True)
        check_real("return_weight", return_weight, low=0.0)
        check_real("plan_weight", plan_weight, low=0.0)
        check_real("target_return", target_return, allow_none=True)
        self.plan_schedule = self.group(LangevinSchedule, plan, "plan")
        check_int("plan.n_steps", self.plan_schedule.n_steps, low=0)
        check_choice("prior", prior, ("unet", "gaussian"))
        self.prior = (UNetPrior(1, n_latent * d_model, unet_base, unet_multipliers) if prior == "unet"
                      else GaussianPrior((1, n_latent * d_model)))
        self.policy = TrajectoryPolicy(self.spec.obs_dim, self.spec.act_dim, d_model, n_layers, n_heads,
                                       self.spec.max_len, context, n_latent, dropout)
        self.return_model = ReturnMLP(n_latent * d_model, return_hidden, return_dropout)
        self.register_buffer("obs_mean", torch.zeros(self.spec.obs_dim))
        self.register_buffer("obs_std", torch.ones(self.spec.obs_dim))
        self.register_buffer("stats_set", torch.zeros((), dtype=torch.bool))

    # ---- batches and the data's statistics ------------------------------------------------------
    def split_batch(self, batch: Any) -> tuple[Any, Tensor | None]:
        """x is the whole batch dict (states ``x``, actions ``a``, ``mask``, returns ``y``)."""
        if not isinstance(batch, dict) or not {"x", "a", "mask", "y"} <= set(batch):
            raise ValueError("a batch must be a dict with 'x', 'a', 'mask', 'y' (and 'index'), as LPTRLDataModule gives")
        return batch, batch.get("index")

    def batch_size_of(self, x: Any) -> int:
        return int(x["x"].shape[0])

    def setup(self, stage: str) -> None:
        """Take the training split's state mean/std once (saved with the weights), and check that
        the data is for this model's environment."""
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if dm is None or not hasattr(dm, "spec"):
            return
        if dm.env != self.hparams.env:
            raise not_allowed("data.env", dm.env, f"the model was built for env={self.hparams.env!r}")
        if stage == "fit":
            dm.setup(stage)
            n = len(dm.train_set)
            if self.chain_config.persistent and self.chain_config.n_examples < n:
                raise not_allowed("model.chains.n_examples", self.chain_config.n_examples,
                                  f"it must be at least the training split's size, {n} episodes")
        if stage == "fit" and not bool(self.stats_set) and self.spec.normalize_obs:
            mean, std = dm.train_set.obs_stats()
            self.obs_mean.copy_(mean)
            self.obs_std.copy_(std)
            self.stats_set.fill_(True)

    def normalize(self, obs: Tensor) -> Tensor:
        return (obs - self.obs_mean) / self.obs_std

    def scaled_return(self, ret: Tensor) -> Tensor:
        return ret / self.spec.return_scale

    def tokens(self, z: Tensor) -> Tensor:
        """U(z0) (B, 1, n_latent * d) -> the decoder's latent tokens (B, n_latent, d)."""
        return z.reshape(z.shape[0], self.hparams.n_latent, self.hparams.d_model)

    # ---- likelihoods ------------------------------------------------------------------------------
    def action_sse(self, x: dict, z: Tensor) -> Tensor:
        """sum_t mask_t |a_t - g(s_{<=t}, a_{<t}, z)|² per trajectory, (B,)."""
        pred = self.policy(self.normalize(x["x"]), x["a"], self.tokens(z))
        return ((pred - x["a"]).square().sum(-1) * x["mask"]).sum(1)

    def return_energy(self, z: Tensor, y: Tensor) -> Tensor:
        """-log p_gamma(y | z) + const = (return_precision / 2) (y - r(z))², y scaled, (B,)."""
        return 0.5 * self.hparams.return_precision * (y - self.return_model(z)).square()

    def log_likelihood(self, x: Any, z: Tensor) -> Tensor:
        """log p_beta(tau | z) + log p_gamma(y | z) up to constants, (B,): the data term of Eq. 5."""
        return (-0.5 * self.hparams.action_precision * self.action_sse(x, z)
                - self.return_energy(z, self.scaled_return(x["y"])))

    def generator_parameters(self) -> Iterable[nn.Parameter]:
        yield from (p for p in self.policy.parameters() if p.requires_grad)
        yield from self.return_model.parameters()

    # ---- the base's hooks ------------------------------------------------------------------------
    def training_posterior(self, x: Any, u0: Tensor, diagnostics: Diagnostics) -> Tensor:
        """z0 ~ p(z0 | tau, y) from the chains' starts, dropout off (as the code's ``infer_z``)."""
        was = self.training
        self.eval()
        try:
            return self.infer(x, u0=u0, diagnostics=diagnostics)
        finally:
            self.train(was)

    def generator_loss(self, x: Any, z: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The code's parameter loss at z = U(z0*): masked mean action MSE + return_weight x
        return MSE (both MLE terms of Eq. 4; the UNet learns through z)."""
        pred = self.policy(self.normalize(x["x"]), x["a"], self.tokens(z))
        mask = x["mask"]
        act_mse = ((pred - x["a"]).square().mean(-1) * mask).sum() / mask.sum().clamp_min(1)
        ret_mse = (self.scaled_return(x["y"]) - self.return_model(z)).square().mean()
        loss = act_mse + self.hparams.return_weight * ret_mse
        return loss, {"train/action_mse": act_mse.detach(), "train/return_mse": ret_mse.detach()}

    def eval_step(self, batch: Any, stage: str) -> Tensor:
        """Posterior z0 ~ p(z0 | tau, y) (``eval_posterior``, from noise), then the masked action
        MSE and return MSE there; ``<stage>/nll`` is their sum as in the training loss."""
        x, idx = self.split_batch(batch)
        diag = Diagnostics()
        with torch.inference_mode(False), torch.enable_grad():
            x = {k: v.clone() for k, v in x.items()}
            was = self.training
            self.eval()
            u = self.infer(x, schedule=self.eval_schedule, idx=idx, diagnostics=diag)
            self.train(was)
            with torch.no_grad():
                loss, logs = self.generator_loss(x, self.prior.transform(u))
        logs = {f"{stage}/{k.split('/')[1]}": v for k, v in logs.items()}
        self.log_dict({f"{stage}/nll": loss, **logs, **diag.as_dict(f"{stage}/posterior")},
                      batch_size=self.batch_size_of(x), sync_dist=True)
        return loss

    # ---- planning and acting ----------------------------------------------------------------------
    def plan_energy(self, u: Tensor, y: Tensor) -> Tensor:
        """-log [N(z0; 0, I) p_gamma(y* | U(z0))^w] + const, (B,) (Eq. 7)."""
        return self.prior.energy(u) + self.hparams.plan_weight * self.return_energy(self.prior.transform(u), y)

    def plan(self, targets: Tensor, *, schedule: LangevinSchedule | None = None,
             generator: torch.Generator | None = None) -> Tensor:
        """z = U(z0), z0 ~ p(z0 | y*) by Langevin from N(0, I) (dropout off); targets are raw
        returns (B,) -> latent tokens (B, n_latent, d)."""
        targets = torch.as_tensor(targets, dtype=self.obs_mean.dtype, device=self.device)
        if targets.dim() != 1 or not torch.isfinite(targets).all():
            raise not_allowed("target_return", targets.tolist(), "it must be finite (one value per episode)")
        schedule = schedule or self.plan_schedule
        y = self.scaled_return(targets)
        was = self.training
        self.eval()
        try:
            with torch.inference_mode(False), torch.enable_grad():
                u0 = self.initial_latents(len(y), generator=generator)
                u = u0 if schedule.n_steps == 0 else langevin_from_schedule(
                    lambda v: self.plan_energy(v, y), u0, schedule, generator=generator or self.rng)
                with torch.no_grad():
                    return self.tokens(self.prior.transform(u))
        finally:
            self.train(was)

    @torch.no_grad()
    def act(self, obs: np.ndarray, act: np.ndarray, z: Tensor) -> np.ndarray:
        """Actions (N, da) at the last of the raw observations obs (N, t, ds) given the actions
        taken (N, t - 1, da) and each episode's plan z (N, n_latent, d)."""
        o = self.normalize(torch.as_tensor(obs, device=self.device, dtype=z.dtype))
        a = torch.as_tensor(act, device=self.device, dtype=z.dtype)
        return self.policy.act(o, a, z).cpu().numpy()

    def evaluate(self, n_episodes: int, *, targets: Sequence[float] | Tensor | None = None, seed: int = 0,
                 plan: LangevinSchedule | None = None) -> dict[str, np.ndarray]:
        """Roll out ``n_episodes`` episodes, each with its own plan z ~ p(z | y*) inferred once
        (y* = ``targets`` or ``target_return`` or the env's default). Returns the rollout dict
        plus "targets" and "scores" (normalised)."""
        check_int("n_episodes", n_episodes, low=1)
        if targets is None:
            t = self.hparams.target_return
            targets = [self.spec.target_return if t is None else t] * n_episodes
        targets = torch.as_tensor(targets, dtype=torch.float32).reshape(-1)
        if len(targets) != n_episodes:
            raise not_allowed("targets", targets.tolist(), f"give one per episode ({n_episodes})")
        was = self.training
        self.eval()
        try:
            z = self.plan(targets, schedule=plan, generator=torch.Generator().manual_seed(seed))
            out = rollout(self.hparams.env, lambda o, a, active: self.act(o, a, z), n_episodes, seed=seed)
        finally:
            self.train(was)
        out["targets"] = targets.numpy()
        out["scores"] = normalized_score(out["returns"], self.hparams.env)
        return out

    def _log_rollouts(self, stage: str, n: int) -> None:
        if n == 0 or (self._trainer is not None and self.trainer.sanity_checking):
            return
        out = self.evaluate(n, seed=10_000)
        logs = {f"{stage}/return": float(out["returns"].mean()), f"{stage}/score": float(out["scores"].mean())}
        if self.hparams.env == "connect4":
            logs[f"{stage}/win_rate"] = out["win_rate"]
        self.log_dict(logs, sync_dist=False)

    def on_validation_epoch_end(self) -> None:
        self._log_rollouts("val", self.hparams.val_episodes)

    def on_test_epoch_end(self) -> None:
        self._log_rollouts("test", self.hparams.test_episodes)

    # ---- predict: a calibration sweep -------------------------------------------------------------
    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
        """One episode per requested return (``batch["target"]``, raw): plan, act, score."""
        targets = batch["target"].float().cpu()
        out = self.evaluate(len(targets), targets=targets, seed=20_000 + 1000 * batch_idx)
        return {k: out[k] for k in ("targets", "returns", "scores", "lengths")}

    def write_predictions(self, predictions: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        """``rollouts.csv`` (target, return, score, length per episode) and ``calibration.png``
        (return achieved against return requested)."""
        rows = {k: np.concatenate([p[k] for p in predictions]) for k in ("targets", "returns", "scores", "lengths")}
        path = out_dir / "rollouts.csv"
        lines = ["target,return,score,length"] + [
            f"{t:.4f},{r:.4f},{s:.2f},{int(n)}" for t, r, s, n in zip(*(rows[k] for k in rows))]
        path.write_text("\n".join(lines) + "\n")
        paths = [path]
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:  # pragma: no cover - matplotlib is optional
            return paths
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(rows["targets"], rows["returns"], s=12)
        lo, hi = float(min(rows["targets"].min(), rows["returns"].min())), float(max(rows["targets"].max(), rows["returns"].max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel("requested return y*")
        ax.set_ylabel("achieved return")
        ax.set_title(f"LPT calibration ({self.hparams.env})")
        fig.tight_layout()
        png = out_dir / "calibration.png"
        fig.savefig(png, dpi=100)
        plt.close(fig)
        return [*paths, png]

