"""The same-size baselines: behaviour cloning and Decision Transformer (final return / step rewards).

Both use LPT's ``TrajectoryPolicy`` (same embeddings, decoder, action head and window):
- ``condition="none"``: behaviour cloning, the decoder without cross-attention.
- ``condition="return"``: the episode's final return, embedded as ``n_latent`` tokens by a linear
  map, read by the same cross-attention LPT's plan uses. This is Decision Transformer's
  "final return only" setting (its return-to-go is the final return at every step when step
  rewards are withheld) in this network; acting, y* is the requested return.
- ``condition="rtg"``: Decision Transformer with step rewards: the return-to-go
  R_t = sum_{t' >= t} r_t' (``batch["rtg"]``), scaled by the env's return scale, is embedded and
  added to the token of s_t (``TrajectoryPolicy(rtg=True)``; DT gives R_t its own token).
  Acting, R_0 = y* and R_{t+1} = R_t - r_t, as DT's evaluation loop.
Trained by the masked mean action MSE with the LPT code's optimiser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from latent_ebm.core.checks import check_choice, check_int, not_allowed
from latent_ebm.core.lightning import OptimConfig, SeededModule

from .envs import env_spec, normalized_score, rollout
from .model import OPTIM
from .nets import TrajectoryPolicy

__all__ = ["SequenceBCModule", "acting_rtg"]


def acting_rtg(targets: np.ndarray, rewards: np.ndarray) -> np.ndarray:
    """Returns-to-go while acting (N, t + 1) from targets y* (N,) and the rewards received so far
    (N, t): R_0 = y*, R_{k+1} = R_k - r_k (Decision Transformer's evaluation loop)."""
    r = np.asarray(rewards, dtype=np.float64)
    spent = np.concatenate([np.zeros((len(r), 1)), np.cumsum(r, axis=1)], axis=1)
    return (np.asarray(targets, dtype=np.float64).reshape(-1, 1) - spent).astype(np.float32)


class SequenceBCModule(SeededModule):
    """Behaviour cloning (``condition="none"``), final-return conditioning (``"return"``) or
    return-to-go conditioning from step rewards (``"rtg"``).

    Args: env, d_model, n_layers, n_heads, context, n_latent, dropout (as ``LPTRLModule``),
        condition, target_return (raw y*; None: the env's), test_episodes, optim, init_noise, seed.
    """

    def __init__(self, *, env: str = "chain", d_model: int = 128, n_layers: int = 3, n_heads: int = 1,
                 context: int = 64, n_latent: int = 4, dropout: float = 0.1,
                 condition: Literal["none", "return", "rtg"] = "none", target_return: float | None = None,
                 test_episodes: int = 10, optim: OptimConfig = OPTIM,
                 init_noise: Literal["rank", "example"] = "rank", seed: int | None = 42) -> None:
        super().__init__(init_noise=init_noise, seed=seed)
        self.save_hyperparameters()
        self.spec = env_spec(env)
        check_choice("condition", condition, ("none", "return", "rtg"))
        check_int("test_episodes", test_episodes, low=0)
        self.optim = self.group(OptimConfig, optim, "optim")
        conditioned = condition == "return"
        self.policy = TrajectoryPolicy(self.spec.obs_dim, self.spec.act_dim, d_model, n_layers, n_heads,
                                       self.spec.max_len, context, n_latent, dropout, cross_attention=conditioned,
                                       rtg=condition == "rtg")
        self.return_embed = nn.Linear(1, n_latent * d_model) if conditioned else None
        self.register_buffer("obs_mean", torch.zeros(self.spec.obs_dim))
        self.register_buffer("obs_std", torch.ones(self.spec.obs_dim))
        self.register_buffer("stats_set", torch.zeros((), dtype=torch.bool))

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if dm is None or not hasattr(dm, "spec"):
            return
        if dm.env != self.hparams.env:
            raise not_allowed("data.env", dm.env, f"the model was built for env={self.hparams.env!r}")
        if stage == "fit" and not bool(self.stats_set) and self.spec.normalize_obs:
            dm.setup(stage)
            mean, std = dm.train_set.obs_stats()
            self.obs_mean.copy_(mean)
            self.obs_std.copy_(std)
            self.stats_set.fill_(True)

    def latents(self, ret: Tensor) -> Tensor | None:
        """Raw returns (B,) -> (B, n_latent, d) condition tokens, or None for BC."""
        if self.return_embed is None:
            return None
        y = (ret / self.spec.return_scale).reshape(-1, 1).to(self.obs_mean.dtype)
        return self.return_embed(y).reshape(len(y), self.hparams.n_latent, self.hparams.d_model)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        obs = (batch["x"] - self.obs_mean) / self.obs_std
        rtg = batch["rtg"] / self.spec.return_scale if self.hparams.condition == "rtg" else None
        pred = self.policy(obs, batch["a"], self.latents(batch["y"]), rtg)
        mask = batch["mask"]
        return ((pred - batch["a"]).square().mean(-1) * mask).sum() / mask.sum().clamp_min(1)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self.loss(batch)
        self.log("train/action_mse", loss.detach(), batch_size=len(batch["y"]))
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self.loss(batch)
        self.log("val/nll", loss, batch_size=len(batch["y"]), sync_dist=True)
        return loss

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self.loss(batch)
        self.log("test/nll", loss, batch_size=len(batch["y"]), sync_dist=True)
        return loss

    def configure_optimizers(self) -> Any:
        from latent_ebm.core.lightning import build_optimizer

        opt, sched = build_optimizer([p for p in self.parameters() if p.requires_grad], self.optim,
                                     total_steps=self._schedule_length(1))
        return opt if sched is None else {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def configure_gradient_clipping(self, optimizer: Any, gradient_clip_val: Any = None,
                                    gradient_clip_algorithm: Any = None) -> None:
        clip = self.optim.grad_clip
        if clip is not None:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")

    @torch.no_grad()
    def evaluate(self, n_episodes: int, *, targets: Sequence[float] | Tensor | None = None,
                 seed: int = 0) -> dict[str, np.ndarray]:
        """Rollouts as ``LPTRLModule.evaluate`` (targets matter for ``condition="return"`` only)."""
        if targets is None:
            t = self.hparams.target_return
            targets = [self.spec.target_return if t is None else t] * n_episodes
        targets = torch.as_tensor(targets, dtype=torch.float32).reshape(-1)
        was = self.training
        self.eval()
        try:
            z = self.latents(targets.to(self.device))
            use_rtg = self.hparams.condition == "rtg"

            def policy(o: np.ndarray, a: np.ndarray, active: np.ndarray, r: np.ndarray | None = None) -> np.ndarray:
                obs = (torch.as_tensor(o, device=self.device) - self.obs_mean) / self.obs_std
                rtg = None
                if use_rtg:
                    rtg = torch.as_tensor(acting_rtg(targets.numpy(), r), device=self.device) / self.spec.return_scale
                return self.policy.act(obs, torch.as_tensor(a, device=self.device), z, rtg).cpu().numpy()

            out = rollout(self.hparams.env, policy, n_episodes, seed=seed, pass_rewards=use_rtg)
        finally:
            self.train(was)
        out["targets"] = targets.numpy()
        out["scores"] = normalized_score(out["returns"], self.hparams.env)
        return out

    def on_test_epoch_end(self) -> None:
        n = self.hparams.test_episodes
        if n:
            out = self.evaluate(n, seed=10_000)
            logs = {"test/return": float(out["returns"].mean()), "test/score": float(out["scores"].mean())}
            if self.hparams.env == "connect4":
                logs["test/win_rate"] = out["win_rate"]
            self.log_dict(logs)
