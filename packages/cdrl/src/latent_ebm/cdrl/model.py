"""CDRL (Zhu, Xie, Wu, Gao, ICLR 2024) and its DRL baseline (Gao et al., ICLR 2021) as one
LightningModule; ``use_initializer=False`` is DRL (Langevin from x_t, K = 30 in its config).

One training iteration (Zhu et al. 2024, Alg. 1; official ``main_uncond.py``), per example a
random level t in 1..n:
1. x_t and x_{t-1} from the same data x and, with ``variance_reduction``, the SAME noise eps
   (App. A.1), else x_{t-1} ~ q(x_{t-1} | x_t, x).
2. positive term g(m_t x_{t-1}) and negative term g(x~_K), each weighted by sigma_1 / sigma_t;
   EBM loss = E[w g(neg)] - E[w g(pos)] (recovery likelihood gradient, DRL eq. 7).
3. x~_0 = U(x_t) + sqrt(beta_tilde_t m_t^2) eps' (initializer with the small reverse variance),
   x~_K = K Langevin steps on p(x~ | x_t) with the EBM in eval mode (``sampler.revise``).
4. initializer loss = E ||x~_K - x~_0||^2 (MCMC teaching, CoopNets; sec. 4.1).
5. Adam for the EBM, AdamW for the initializer, linear warm-up, grad-norm clip 1, EMA of both.

Built on the core's ``CooperativeModule`` (its per-rank sampler RNG, checkpointed, drives the
training chains); the per-level structure (a random level per example, the tether to x_t, the
per-level weights and step sizes, the initializer's reverse-diffusion noise, DRL without an
initializer, warm-up and EMA) overrides its ``training_step`` and ``configure_optimizers``.
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
from lightning.pytorch.core.mixins import hparams_mixin as _hp
from torch import Tensor

from latent_ebm.core.lightning import CooperativeModule
from latent_ebm.core.samplers import LangevinSchedule

from .metrics import sample_quality
from .nets import EnergyNet, Initializer
from .sampler import revise, sample_levels
from .schedule import LevelCoefficients, NoiseSchedule

__all__ = ["CDRL"]


def _bview(v: Tensor, like: Tensor) -> Tensor:
    return v.view(-1, *([1] * (like.dim() - 1))).to(like.dtype)


class CDRL(CooperativeModule):
    """Cooperative diffusion recovery likelihood EBM (or DRL with ``use_initializer=False``).

    Args:
        data_shape: (C, H, W) images or (D,) vectors.
        n_levels, logsnr_min, logsnr_max, step_coeff: the schedule (official 6, -5.1, 9.8, 2e-4).
        n_steps: K Langevin steps per level in training (CDRL 15, DRL 30); ``sample_steps``: K
            at sampling time (default ``n_steps``).
        use_initializer: CDRL (True) or DRL (False).
        variance_reduction: shared noise for x_t and x_{t-1} (App. A.1).
        num_classes: > 0 trains a class-conditional EBM and initializer with label dropout
            ``p_uncond`` (classifier-free guidance, null label = num_classes).
        ebm_*, init_*: network sizes; spectral_norm on the EBM (official: on).
        ebm_lr, init_lr, warmup_steps, grad_clip, ema_decay: optimisation (official 1e-4, 1e-5,
            10k, 1.0, 0.9999).
        eval_samples: samples drawn (EMA nets) at each validation for the quality figure;
            fid_dataset: train/load the offline FID classifier of that dataset (images only).
        seed: base seed of the sampler RNG (None: the global seed).

    Note: Lightning's ``global_step`` counts optimiser steps, two per CDRL iteration.
    """

    def __init__(
        self,
        *,
        data_shape: tuple[int, ...] = (1, 32, 32),
        n_levels: int = 6,
        logsnr_min: float = -5.1,
        logsnr_max: float = 9.8,
        step_coeff: float = 2e-4,
        n_steps: int = 15,
        sample_steps: int | None = None,
        use_initializer: bool = True,
        variance_reduction: bool = True,
        num_classes: int = 0,
        p_uncond: float = 0.1,
        ebm_width: int = 32,
        ebm_mult: tuple[int, ...] = (1, 2, 2),
        ebm_blocks: int = 1,
        spectral_norm: bool = True,
        init_width: int = 16,
        init_mult: tuple[int, ...] = (1, 2, 2),
        ebm_lr: float = 1e-4,
        init_lr: float = 1e-5,
        warmup_steps: int = 10000,
        grad_clip: float = 1.0,
        ema_decay: float = 0.9999,
        eval_samples: int = 256,
        fid_dataset: Literal["mnist", "fashion-mnist"] | None = None,
        seed: int | None = None,
    ) -> None:
        data_shape = tuple(int(d) for d in data_shape)
        if len(data_shape) not in (1, 3) or min(data_shape) < 1:
            raise ValueError(f"data_shape={data_shape} is not allowed; use (C, H, W) or (D,)")
        for name, k in (("n_steps", n_steps), ("sample_steps", sample_steps)):
            if k is not None and (not isinstance(k, int) or k < 1):
                raise ValueError(f"{name}={k!r} is not allowed; K must be an int >= 1")
        if num_classes < 0 or not 0 <= p_uncond < 1:
            raise ValueError(f"num_classes={num_classes} must be >= 0 and p_uncond={p_uncond} in [0, 1)")
        if not 0 <= ema_decay < 1 or warmup_steps < 0 or grad_clip <= 0:
            raise ValueError(f"need 0 <= ema_decay < 1, warmup_steps >= 0, grad_clip > 0; got "
                             f"{ema_decay}, {warmup_steps}, {grad_clip}")
        # TODO(core): CooperativeModule's revision is one LangevinSchedule with a scalar step size;
        # CDRL's step size varies per example (level), handled by sampler.revise (step 1 in y = x~/s_t).
        # TODO(core): under LightningCLI the base's save_hyperparameters() records the CLI's
        # (subclass) arguments, so its schedule_hparam("revision") raises KeyError; hide them here.
        token = _hp._given_hyperparameters.set(None)
        try:
            super().__init__(revision=LangevinSchedule(n_steps=n_steps, step_size=1.0), energy_lr=ebm_lr,
                             initializer_lr=init_lr, betas=(0.9, 0.999), grad_clip=grad_clip, seed=seed)
        finally:
            _hp._given_hyperparameters.reset(token)
        self.save_hyperparameters()
        for key in ("revision", "energy_lr", "initializer_lr", "betas", "initializer_sigma"):
            # the base's own arguments are derived from ours; keep them out of checkpoints/CLI
            self.hparams.pop(key, None)
            getattr(self, "_hparams_initial", {}).pop(key, None)
        self.data_shape = data_shape
        self.schedule = NoiseSchedule(n_levels, logsnr_min, logsnr_max, step_coeff)
        self.ebm = EnergyNet(data_shape, ebm_width, tuple(ebm_mult), ebm_blocks, spectral_norm, num_classes)
        self.initializer = (
            Initializer(data_shape, init_width, tuple(init_mult), num_classes) if use_initializer else None
        )
        # EMA copies live in the state dict, so checkpoints carry them (official: torch_ema, 0.9999).
        self.ebm_ema = copy.deepcopy(self.ebm).requires_grad_(False)
        self.initializer_ema = (
            copy.deepcopy(self.initializer).requires_grad_(False) if use_initializer else None
        )
        self._val_real: list[Tensor] = []

    # ----------------------------------------------------------------- helpers
    @property
    def null_label(self) -> int | None:
        return self.hparams.num_classes if self.hparams.num_classes > 0 else None

    def _coef(self, t: Tensor) -> LevelCoefficients:
        c = self.schedule.coefficients(t)
        return LevelCoefficients(*(v.to(self.device) for v in c.__dict__.values()))

    def _check_x(self, x: Tensor, name: str = "x") -> None:
        if not isinstance(x, Tensor) or tuple(x.shape[1:]) != self.data_shape or x.dim() < 2:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{name} has shape {got}; this model expects (B, {', '.join(map(str, self.data_shape))})")

    def _check_labels(self, labels: Tensor | None, guidance: float, n: int) -> Tensor | None:
        if self.null_label is None:
            if labels is not None or guidance != 1.0:
                raise ValueError(
                    f"guidance={guidance} / labels={'given' if labels is not None else None} need a "
                    "class-conditional model (num_classes > 0); this model is unconditional"
                )
            return None
        if labels is None:
            return None
        labels = torch.as_tensor(labels, device=self.device).long()
        if labels.shape[0] != n or labels.dim() > 2:
            raise ValueError(f"labels shape {tuple(labels.shape)} must be ({n},) or ({n}, J)")
        if labels.min() < 0 or labels.max() >= self.hparams.num_classes:
            raise ValueError(f"labels must lie in 0..{self.hparams.num_classes - 1}")
        return labels

    # ----------------------------------------------------------------- sampling
    def sample(
        self,
        n: int,
        *,
        n_steps: int | None = None,
        labels: Tensor | None = None,
        guidance: float = 1.0,
        known: Tensor | None = None,
        mask: Tensor | None = None,
        use_langevin: bool = True,
        denoise: bool = True,
        use_ema: bool = True,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draw ``n`` samples (n, *data_shape) from noise through all levels (``sample_levels``).

        ``n_steps``: K per level (default ``sample_steps`` or ``n_steps``); ``labels`` (n,) or
        (n, J) with ``guidance`` w (0 = unconditional, 1 = conditional; J > 1 composes the
        conditions); ``known``/``mask`` inpaint; ``use_langevin=False``: initializer alone.
        """
        k = n_steps if n_steps is not None else (self.hparams.sample_steps or self.hparams.n_steps)
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"n_steps={k!r} is not allowed; K must be an int >= 1")
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n={n!r} is not allowed; it must be an int >= 1")
        labels = self._check_labels(labels, float(guidance), n)
        if (known is None) != (mask is None):
            raise ValueError("known and mask must be given together for inpainting")
        if known is not None:
            self._check_x(known, "known")
            self._check_x(mask, "mask")
            if known.shape[0] != n:
                raise ValueError(f"known has {known.shape[0]} rows; expected n={n}")
            known, mask = known.to(self.device), mask.to(self.device, known.dtype)
        ebm = self.ebm_ema if use_ema else self.ebm
        init = self.initializer_ema if use_ema else self.initializer
        was = [m.training for m in (ebm, init) if m is not None]
        for m in (ebm, init):
            if m is not None:
                m.eval()
        x_n = torch.randn((n, *self.data_shape), generator=generator, device=self.device)
        try:
            return sample_levels(self.schedule, ebm, init, x_n, k, labels=labels, guidance=float(guidance),
                                 null_label=self.null_label, known=known, mask=mask,
                                 use_langevin=use_langevin, denoise=denoise, generator=generator)
        finally:
            for m, w in zip([m for m in (ebm, init) if m is not None], was):
                m.train(w)

    # ----------------------------------------------------------------- CooperativeModule hooks
    def data(self, batch) -> Tensor:
        return self._batch(batch)[0]

    def energy_parameters(self):
        return self.ebm.parameters()

    def initializer_parameters(self):
        return [] if self.initializer is None else self.initializer.parameters()

    def energy(self, x: Tensor, cond: tuple[Tensor, Tensor, Tensor | None]) -> Tensor:
        """Conditional energy -log p(x~ | x_t) + const at levels t: cond = (t (B,), x_t, y or None).

        E = -g(x~) / s_t^2 + ||x~ - x_t||^2 / (2 sigma_t^2) (no tether at the final level).
        """
        t, x_t, y = cond
        coef = self._coef(t)
        quad = (x - x_t).square().flatten(1).sum(1) * (1 - coef.final) / (2 * coef.beta)
        return -self.ebm(x, coef.logsnr_s, y) / coef.step_sq + quad

    # ----------------------------------------------------------------- training
    def configure_optimizers(self):
        h = self.hparams

        def warm(step: int) -> float:  # linear warm-up (official warmup_steps = 10k)
            return min(1.0, (step + 1) / h.warmup_steps) if h.warmup_steps > 0 else 1.0

        opt_e = torch.optim.Adam(self.ebm.parameters(), lr=h.ebm_lr, betas=(0.9, 0.999))
        sch = [torch.optim.lr_scheduler.LambdaLR(opt_e, warm)]
        opts = [opt_e]
        if self.initializer is not None:
            opt_i = torch.optim.AdamW(self.initializer.parameters(), lr=h.init_lr, weight_decay=0.0)
            opts.append(opt_i)
            sch.append(torch.optim.lr_scheduler.LambdaLR(opt_i, warm))
        return opts, sch

    def _batch(self, batch) -> tuple[Tensor, Tensor | None]:
        x, y = (batch[0], batch[1]) if isinstance(batch, (list, tuple)) else (batch, None)
        self._check_x(x)
        return x, (y if self.null_label is not None else None)

    def noisy_pair(self, x: Tensor, coef: LevelCoefficients) -> tuple[Tensor, Tensor]:
        """(x_t, x_{t-1}) for data x (DRL eq. 1); shared eps with variance reduction (App. A.1)."""
        eps = torch.randn_like(x)
        a_t, a_s = _bview(coef.alpha_t, x), _bview(coef.alpha_s, x)
        x_t = a_t.sqrt() * x + (1 - a_t).sqrt() * eps
        if self.hparams.variance_reduction:
            return x_t, a_s.sqrt() * x + (1 - a_s).sqrt() * eps
        # q(x_{t-1} | x_t, x): DDPM posterior with variance beta_tilde (Ho et al. 2020, eq. 7)
        beta, m2 = _bview(coef.beta, x), a_t / a_s
        mean = a_s.sqrt() * beta / (1 - a_t) * x + m2.sqrt() * (1 - a_s) / (1 - a_t) * x_t
        return x_t, mean + _bview(coef.beta_tilde.sqrt(), x) * torch.randn_like(x)

    def training_step(self, batch, batch_idx: int) -> Tensor:
        x, y = self._batch(batch)
        h = self.hparams
        b = x.shape[0]
        if y is not None and h.p_uncond > 0:
            y = torch.where(torch.rand(b, device=x.device) < h.p_uncond, self.null_label, y)
        t = torch.randint(1, h.n_levels + 1, (b,), device=x.device)
        coef = self._coef(t)
        x_t, x_s = self.noisy_pair(x, coef)
        m = _bview(coef.scale, x)
        pos = m * x_s  # x~ of the data: (B, ...)
        if self.initializer is not None:
            noise = _bview((coef.beta_tilde * coef.scale**2).sqrt(), x) * torch.randn_like(x)
            prop = self.initializer(x_t, coef.logsnr_t, y) + noise
        else:
            prop = x_t
        self.ebm.eval()  # official: pi.eval() during the chain (no spectral-norm power step)
        neg = revise(lambda v: self.ebm(v, coef.logsnr_s, y), prop.detach(), x_t, coef,
                     self.schedule.step_coeff, h.n_steps, generator=self.rng)
        self.ebm.train()
        w = coef.weight
        e_pos, e_neg = self.ebm(pos, coef.logsnr_s, y), self.ebm(neg, coef.logsnr_s, y)
        loss_e = (w * e_neg).mean() - (w * e_pos).mean()
        opts, schs = self.optimizers(), self.lr_schedulers()
        opts = opts if isinstance(opts, list) else [opts]
        schs = schs if isinstance(schs, list) else [schs]
        opts[0].zero_grad(set_to_none=True)
        self.manual_backward(loss_e)
        self.clip_gradients(opts[0], gradient_clip_val=h.grad_clip, gradient_clip_algorithm="norm")
        opts[0].step()
        schs[0].step()
        logs = {"train/loss_ebm": loss_e.detach(), "train/g_pos": e_pos.mean().detach(),
                "train/g_neg": e_neg.mean().detach()}
        if self.initializer is not None:
            loss_i = (neg - prop).square().flatten(1).sum(1).mean()
            opts[1].zero_grad(set_to_none=True)
            self.manual_backward(loss_i)
            self.clip_gradients(opts[1], gradient_clip_val=h.grad_clip, gradient_clip_algorithm="norm")
            opts[1].step()
            schs[1].step()
            logs["train/loss_init"] = loss_i.detach()
        self._ema_update()
        self.log_dict(logs, prog_bar=True, on_step=True, on_epoch=False)
        return loss_e.detach()

    @torch.no_grad()
    def _ema_update(self) -> None:
        d = self.hparams.ema_decay
        pairs = [(self.ebm, self.ebm_ema), (self.initializer, self.initializer_ema)]
        for net, ema in pairs:
            if net is None:
                continue
            for p, q in zip(net.parameters(), ema.parameters()):
                q.lerp_(p, 1.0 - d)
            for p, q in zip(net.buffers(), ema.buffers()):
                q.copy_(p)

    # ----------------------------------------------------------------- evaluation
    def validation_step(self, batch, batch_idx: int) -> None:
        x, _ = self._batch(batch)
        have = sum(len(r) for r in self._val_real)
        if have < self.hparams.eval_samples:
            self._val_real.append(x[: self.hparams.eval_samples - have].detach().cpu())

    def test_step(self, batch, batch_idx: int) -> None:
        self.validation_step(batch, batch_idx)

    def _quality(self, stage: str) -> None:
        if not self._val_real:
            return
        real = torch.cat(self._val_real)
        self._val_real = []
        fake = self.sample(len(real)).cpu()
        if not torch.isfinite(fake).all():
            raise FloatingPointError("samples contain NaN/inf; lower step_coeff or the learning rates")
        for k, v in sample_quality(real, fake, self.hparams.fid_dataset).items():
            self.log(f"{stage}/{k}", v, prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        self._quality("val")

    def on_test_epoch_end(self) -> None:
        self._quality("test")

    # ----------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)  # the sampler RNG of every rank
        checkpoint["cdrl_rng"] = {"torch": torch.get_rng_state()}  # data-noise draws (randn_like)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        rng = checkpoint.get("cdrl_rng")
        if rng is not None:
            torch.set_rng_state(rng["torch"])

