"""LPT for molecules (Kong et al., arXiv 2310.03253; NeurIPS 2024, arXiv 2402.17179v2).

Joint model p(x, y, z0) = N(z0; 0, I) p_beta(x | U(z0)) p_gamma(y | U(z0)) (paper Sec. 2):
UNet prior U (core ``UNetPrior``), causal Transformer over SELFIES cross-attending to the
latents (core ``LatentConditionedDecoder``, style="gpt", shared latents, LayerNorm on z), one
Gaussian MLP per property. Learning is MCMC-based MLE with Langevin posterior sampling on z0.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_ebm.core.lightning import LatentEBMModule
from latent_ebm.core.nn import LatentConditionedDecoder
from latent_ebm.core.priors import UNetPrior
from latent_ebm.core.samplers import LangevinSchedule, langevin

__all__ = ["LPTMol", "PropertyMLP", "to_target", "from_target"]

LPT_POSTERIOR = LangevinSchedule(n_steps=15, step_size=0.3, noise_scale=0.5)  # LPT code infer_z

# Regression-target transforms of the LPT code (utils.py): PlogP (v+15)/20, SA/10, QED raw; for
# docking energies E (clipped to <= 0) ESR1 log(1 - E) and ACAA1 -E/20. Docking values here are
# v = -E (``DockingOracle(negate=True)``: every optimiser maximises), so ESR1 is log(1 + v).
_FWD = {"qed": lambda v: v, "sa": lambda v: v / 10.0, "plogp": lambda v: (v + 15.0) / 20.0,
        "esr1": lambda v: torch.log1p(v.clamp(min=0.0)), "acaa1": lambda v: v.clamp(min=0.0) / 20.0}
_INV = {"qed": lambda v: v, "sa": lambda v: v * 10.0, "plogp": lambda v: v * 20.0 - 15.0,
        "esr1": torch.expm1, "acaa1": lambda v: v * 20.0}


def to_target(y: Tensor, props: Sequence[str]) -> Tensor:
    """Raw property values (B, P) -> regression targets (B, P)."""
    return torch.stack([_FWD[p](y[:, i]) for i, p in enumerate(props)], dim=1)


def from_target(t: Tensor, props: Sequence[str]) -> Tensor:
    return torch.stack([_INV[p](t[:, i]) for i, p in enumerate(props)], dim=1)


class PropertyMLP(nn.Module):
    """One MLP per property on flattened z: d_z -> 100 -> 100 -> 1 with SiLU, dropout (LPT code)."""

    def __init__(self, d_z: int, n_props: int, hidden: Sequence[int] = (100, 100), dropout: float = 0.3) -> None:
        super().__init__()

        def mlp() -> nn.Sequential:
            layers, d = [], d_z
            for h in hidden:
                layers += [nn.Linear(d, h), nn.SiLU(), nn.Dropout(dropout)]
                d = h
            return nn.Sequential(*layers, nn.Linear(d, 1))

        self.heads = nn.ModuleList(mlp() for _ in range(n_props))

    def forward(self, z: Tensor) -> Tensor:
        """(B, N, d) -> predictions (B, P)."""
        flat = z.flatten(1)
        return torch.cat([h(flat) for h in self.heads], dim=1)


class LPTMol(LatentEBMModule):
    """Latent Prompt Transformer; ``phase`` 'pretrain' learns p(x|z), 'finetune' adds p(y|z)."""

    def __init__(
        self,
        *,
        vocab_size: int = 128,
        max_len: int = 72,
        n_latent: int = 4,
        latent_dim: int = 256,
        unet_base: int = 16,
        unet_multipliers: tuple[int, ...] = (1, 2, 4, 8),
        d_model: int = 256,
        n_layers: int = 3,
        n_heads: int = 4,
        dropout: float = 0.1,
        properties: tuple[str, ...] = ("qed",),
        prop_hidden: tuple[int, ...] = (100, 100),
        prop_dropout: float = 0.3,
        prop_precision: float = 1.0,
        prop_coefficient: float = 1.0,
        phase: Literal["pretrain", "finetune"] = "pretrain",
        posterior: LangevinSchedule = LPT_POSTERIOR,
        eval_posterior: LangevinSchedule | None = None,
        generator_lr: float = 7.5e-4,
        weight_decay: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.95),
        grad_clip: float | None = 5.0,
        seed: int | None = 3435,
        prior_langevin: None = None,
        prior_lr: float = 2e-5,  # unused: the UNet prior learns with the generator's optimiser
        persistent_posterior: bool = False,
        n_examples: int = 0,
        init_noise: Literal["rank", "example"] = "rank",
    ) -> None:
        # The core records every constructor argument of this class in hparams and stores the
        # schedules there as plain dicts; saving hparams again here would undo that.
        super().__init__(posterior=posterior, prior_langevin=prior_langevin, eval_posterior=eval_posterior,
                         generator_lr=generator_lr, prior_lr=prior_lr, betas=betas, grad_clip=grad_clip,
                         persistent_posterior=persistent_posterior, n_examples=n_examples,
                         init_noise=init_noise, seed=seed)
        if phase not in ("pretrain", "finetune"):
            raise ValueError(f"phase={phase!r} is not allowed; use 'pretrain' or 'finetune'")
        unknown = [p for p in properties if p not in _FWD]
        if unknown:
            raise ValueError(f"properties={properties!r} is not allowed; each must be one of {sorted(_FWD)}")
        if prop_precision <= 0:
            raise ValueError(f"prop_precision={prop_precision!r} is not allowed; give a value > 0")
        self.prior = UNetPrior(n_latent, latent_dim, unet_base, unet_multipliers)
        self.decoder = LatentConditionedDecoder(
            vocab_size, d_model, n_layers, n_heads, max_len + 1, cross_attention=True,
            latent_groups="shared", n_latents=n_latent, style="gpt", latent_norm=True,
            dropout=dropout, tie_weights=False,
        )
        if latent_dim != d_model:
            # TODO(core): the decoder reads latents of width d_model; project when they differ.
            self.latent_proj = nn.Linear(latent_dim, d_model)
        else:
            self.latent_proj = nn.Identity()
        self.prop = PropertyMLP(n_latent * latent_dim, len(properties), prop_hidden, prop_dropout)
        self.vocab_state: dict | None = None  # SELFIES vocabulary, saved in checkpoints

    # ---- likelihoods -----------------------------------------------------------------------------
    def split_batch(self, batch: Any) -> tuple[Any, Tensor | None]:
        return batch, batch.get("index")

    def batch_size_of(self, x: Any) -> int:
        return int(x["x"].shape[0])

    def token_nll(self, tokens: Tensor, z: Tensor) -> Tensor:
        """Per-token CE (B, T) and mask (B, T) for tokens (B, T+1) = [bos, ..., eos, pad...]."""
        logits = self.decoder(tokens[:, :-1], self.latent_proj(z))  # (B, T, V)
        tgt = tokens[:, 1:]
        ce = F.cross_entropy(logits.transpose(1, 2), tgt, reduction="none")  # (B, T)
        return ce, (tgt != 0).float()

    def log_likelihood(self, x: Any, z: Tensor) -> Tensor:
        """log p(x | z) summed over tokens, (B,)."""
        ce, mask = self.token_nll(x["x"], z)
        return -(ce * mask).sum(1)

    def property_energy(self, z: Tensor, y: Tensor) -> Tensor:
        """-log p(y | z) up to a constant: (precision / 2) sum_p (t_p - MLP_p(z))^2, (B,)."""
        t = to_target(y, self.hparams.properties)
        return 0.5 * self.hparams.prop_precision * ((t - self.prop(z)) ** 2).sum(1)

    def generator_parameters(self) -> Iterable[nn.Parameter]:
        yield from self.decoder.parameters()
        yield from self.latent_proj.parameters()
        yield from self.prop.parameters()

    # ---- posterior -------------------------------------------------------------------------------
    def infer_xy(self, x: dict, y: Tensor | None, *, schedule: LangevinSchedule | None = None,
                 generator: torch.Generator | None = None, u0: Tensor | None = None) -> Tensor:
        """z0 ~ p(z0 | x, y): per step, Langevin on -log p(x|U(z0)) + |z0|²/2, then (with y) a
        gradient step on lambda * property energy (LPT code ``infer_z``; noise factor 0.5).
        Chains start at ``u0`` when given (warm starts), else at N(0, I)."""
        s = schedule or self.posterior_schedule
        g = generator or self.rng
        if torch.is_inference_mode_enabled():
            with torch.inference_mode(False):
                x = {k: v.clone() if torch.is_tensor(v) else v for k, v in x.items()}
                y = None if y is None else y.clone()
                u0 = None if u0 is None else u0.clone()
                return self.infer_xy(x, y, schedule=schedule, generator=g, u0=u0)
        u = self.initial_latents(self.batch_size_of(x), generator=g) if u0 is None else u0.detach()
        was_training = self.training
        self.eval()
        for _ in range(s.n_steps):
            u = langevin(lambda v: self.posterior_energy(v, x), u, 1, s.step_size,
                         noise_scale=s.noise_scale, generator=g)
            if y is not None:
                u = self._property_step(u, y, s.step_size)
        self.train(was_training)
        return u

    def _property_step(self, u: Tensor, y: Tensor, step: float) -> Tensor:
        with torch.enable_grad():
            v = u.detach().requires_grad_(True)
            e = self.hparams.prop_coefficient * self.property_energy(self.prior.transform(v), y).sum()
            (grad,) = torch.autograd.grad(e, v)
        return (u - 0.5 * step**2 * grad).detach()

    # ---- training --------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        finetune = self.hparams.phase == "finetune"
        y = batch["y"] if finetune else None
        _, idx = self.split_batch(batch)
        u = self.infer_xy(batch, y, u0=self.posterior_starts(self.batch_size_of(batch), idx))
        self._langevin_calls += 1
        self.store_posterior(idx, u)
        z = self.prior.transform(u)
        ce, mask = self.token_nll(batch["x"], z)
        nll = (ce * mask).sum() / mask.sum()  # token-mean CE (LPT code)
        loss = nll
        logs = {"train/ce": nll.detach()}
        if finetune:
            mse = ((to_target(y, self.hparams.properties) - self.prop(z)) ** 2).mean(0).sum()
            loss = loss + self.hparams.prop_coefficient * mse
            logs["train/prop_mse"] = mse.detach()
        opt = self.optimizers()
        opt.zero_grad()
        self.manual_backward(loss)
        if self.hparams.grad_clip is not None:
            self.clip_gradients(opt, gradient_clip_val=self.hparams.grad_clip, gradient_clip_algorithm="norm")
        opt.step()
        self.log_dict(logs, on_step=True, on_epoch=False, batch_size=self.batch_size_of(batch))
        return loss.detach()

    def _eval_step(self, batch: Any, stage: str) -> Tensor:
        u = self.infer_xy(batch, None)
        with torch.no_grad():
            ce, mask = self.token_nll(batch["x"], self.prior.transform(u))
            nll = (ce * mask).sum() / mask.sum()
        self.log(f"{stage}/nll", nll, batch_size=self.batch_size_of(batch))
        return nll

    def configure_optimizers(self) -> Any:
        """AdamW, weight decay on >= 2-d weights only (LPT code)."""
        params = list(self.generator_parameters()) + list(self.prior.parameters())
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        return torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.hparams.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.hparams.generator_lr, betas=tuple(self.hparams.betas),
        )

    # ---- vocabulary plumbing ---------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if dm is not None and getattr(dm, "vocab", None) is None:
            dm.setup(stage)
        if dm is not None and dm.vocab is not None:
            if len(dm.vocab) > self.hparams.vocab_size:
                raise ValueError(f"vocab_size={self.hparams.vocab_size} is too small; the data needs {len(dm.vocab)}")
            self.vocab_state = dm.vocab.state_dict()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["lpt_vocab"] = self.vocab_state

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.vocab_state = checkpoint.get("lpt_vocab")
