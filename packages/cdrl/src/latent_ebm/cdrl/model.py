"""CDRL (Zhu, Xie, Wu, Gao, ICLR 2024) and its DRL baseline (Gao et al., ICLR 2021) as one
LightningModule; ``use_initializer=False`` is DRL (Langevin from x_t, K = 30 in its config).

Sources: only the abstract and opening of the CDRL paper (arXiv 2309.05153) could be read here,
so its equation numbers are unverified; each step names the official code (AlvinZhuyx/CDRL,
``main_uncond.py``) instead. One training iteration (official ``train()`` loop), per example a
random level t in 1..n:
1. x_t and x_{t-1} from the same data x and, with ``variance_reduction``, the SAME noise eps
   (official ``variance_reduction = True`` branch: one ``tmpe`` for both ``diffusion_forward``
   calls), else x_{t-1} ~ q(x_{t-1} | x_t, x) (official ``denoise_true``).
2. positive term g(m_t x_{t-1}) and negative term g(x~_K), each weighted by sigma_1 / sigma_t
   (official ``pi_loss_weight``); EBM loss = E[w g(neg)] - E[w g(pos)] (the recovery
   likelihood gradient of DRL, Gao et al. 2021, sec. 3; eq. number unverified).
3. x~_0 = U(x_t) + sqrt(beta_tilde_t m_t^2) eps' (initializer with the small reverse variance,
   official ``pred_var_type = 'small'``, ``p_with_noise``), x~_K = K Langevin steps on
   p(x~ | x_t) with the EBM in eval mode (``sampler.revise``; official ``Langevin``).
4. initializer loss = E ||x~_K - x~_0||^2 (MCMC teaching, CoopNets; official ``p_loss``).
5. Adam for the EBM, AdamW for the initializer (official ``pi_optimizer``/``p_optimizer``),
   linear warm-up (``LambdaLR``), grad-norm clip 1 (``clip_grad_norm``), EMA of both nets
   (``torch_ema`` 0.9999); spectral norm in the EBM (``models/ebm.py``, ``use_sn``).

Built on the core's ``CooperativeModule``: its per-rank sampler RNG (checkpointed; it drives
every random draw of training, see ``init_noise``) and its ``cooperative_update`` (ONE backward
of the summed losses over the two disjoint networks, so DDP reduces every gradient before either
optimiser steps). The per-level structure (a random level per example, the tether to x_t, the
per-level weights and step sizes, the initializer's reverse-diffusion noise, DRL without an
initializer, warm-up and EMA) overrides its ``training_step`` and ``configure_optimizers``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Literal

import torch
from torch import Tensor

from latent_ebm.core.lightning import CooperativeModule
from latent_ebm.core.lightning._base import CKPT_KEY
from latent_ebm.core.samplers import LangevinSchedule

from .metrics import sample_quality
from .nets import EnergyNet, Initializer
from .sampler import revise, sample_levels
from .schedule import LevelCoefficients, NoiseSchedule

__all__ = ["CDRL"]


# Philox streams of the per-example draws (``SeededModule.standard_normal``)
_LEVEL_STREAM, _DATA_STREAM, _INIT_STREAM, _POSTERIOR_STREAM = 0xC0, 0xC1, 0xC2, 0xC3


def _bview(v: Tensor, like: Tensor) -> Tensor:
    return v.view(-1, *([1] * (like.dim() - 1))).to(like.dtype)


def _uniform(z: Tensor) -> Tensor:
    """U(0, 1) from N(0, 1) draws, Phi(z), in float64."""
    return 0.5 * (1.0 + torch.erf(z.double() / math.sqrt(2.0)))


class CDRL(CooperativeModule):
    """Cooperative diffusion recovery likelihood EBM (or DRL with ``use_initializer=False``).

    Args:
        data_shape: (C, H, W) images or (D,) vectors.
        n_levels, logsnr_min, logsnr_max, step_coeff: the schedule (official 6, -5.1, 9.8, 2e-4).
        n_steps: K Langevin steps per level in training (CDRL 15, DRL 30); ``sample_steps``: K
            at sampling time (default ``n_steps``).
        use_initializer: CDRL (True) or DRL (False).
        variance_reduction: shared noise for x_t and x_{t-1} (official ``variance_reduction``).
        num_classes: > 0 trains a class-conditional EBM and initializer with label dropout
            ``p_uncond`` (classifier-free guidance, null label = num_classes).
        ebm_*, init_*: network sizes; spectral_norm on the EBM (official: on).
        ebm_lr, init_lr, warmup_steps, grad_clip, ema_decay: optimisation (official 1e-4, 1e-5,
            10k, 1.0, 0.9999).
        eval_samples: samples drawn (EMA nets) at each validation for the quality figure;
            fid_dataset: train/load the offline FID classifier of that dataset (images only),
            logged as ``fid_<dataset>-cnn``; fid_inception: Inception-v3 FID instead
            (torchmetrics/torch-fidelity weights, ``pip install latent-ebm-cdrl[fid]``), logged as
            ``fid_inception``. The two are exclusive: their numbers are never comparable.
        noise_scale: multiplies the Langevin noise (1 = the paper; 0 = noiseless, for exact
            split/DDP checks, as in the core's DDP tests).
        init_noise: ``"rank"`` draws every training noise (levels, data noise, initializer noise,
            label dropout) from the per-rank generator; ``"example"`` keys them by example index
            and iteration, so they do not depend on batch split or world size (batches must then
            be ``(x, y, index)`` or ``{"x", "index"[, "y"]}``; ``CDRLData(with_index=True)``).
            The Langevin noise always comes from the per-rank generator (one Philox stream per
            chain batch); use ``noise_scale=0`` where runs must not depend on the split.
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
        fid_inception: bool = False,
        noise_scale: float = 1.0,
        init_noise: Literal["rank", "example"] = "rank",
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
        if not (isinstance(noise_scale, int | float) and math.isfinite(noise_scale) and noise_scale >= 0):
            raise ValueError(f"noise_scale={noise_scale!r} is not allowed; it must be a finite number >= 0")
        if init_noise not in ("rank", "example"):
            raise ValueError(f"init_noise={init_noise!r} is not allowed; use 'rank' or 'example'")
        if fid_inception and (fid_dataset is not None or len(data_shape) != 3):
            raise ValueError(
                f"fid_inception=True needs image data (got data_shape={data_shape}) and fid_dataset=None "
                f"(got {fid_dataset!r}): Inception and classifier FIDs are never computed together"
            )
        # TODO(core): CooperativeModule's revision is one LangevinSchedule with a scalar step size;
        # CDRL's step size varies per example (level), handled by sampler.revise (step 1 in y = x~/s_t).
        super().__init__(revision=LangevinSchedule(n_steps=n_steps, step_size=1.0), energy_lr=ebm_lr,
                         initializer_lr=init_lr, betas=(0.9, 0.999), grad_clip=grad_clip, seed=seed)
        # The base records its own arguments (save_base_hyperparameters); here they are derived
        # from ours, so keep them out of checkpoints and the CLI.
        for key in ("revision", "energy_lr", "initializer_lr", "betas", "initializer_sigma"):
            self.hparams.pop(key, None)
            getattr(self, "_hparams_initial", {}).pop(key, None)
        self._iterations = 0  # training iterations: the offset of example-keyed draws; checkpointed
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
                                 use_langevin=use_langevin, denoise=denoise, generator=generator,
                                 noise_scale=self.hparams.noise_scale)
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

        # Linear warm-up (official LambdaLR, warmup_steps = 10k). Deviation: the official EBM
        # factor is min(1, step / warmup) (lr 0 at the first step), the initializer's
        # min(1, (step + 500) / warmup); here both use (step + 1) / warmup.
        def warm(step: int) -> float:
            return min(1.0, (step + 1) / h.warmup_steps) if h.warmup_steps > 0 else 1.0

        opt_e = torch.optim.Adam(self.ebm.parameters(), lr=h.ebm_lr, betas=(0.9, 0.999))
        sch = [torch.optim.lr_scheduler.LambdaLR(opt_e, warm)]
        opts = [opt_e]
        if self.initializer is not None:
            opt_i = torch.optim.AdamW(self.initializer.parameters(), lr=h.init_lr, weight_decay=0.0)
            opts.append(opt_i)
            sch.append(torch.optim.lr_scheduler.LambdaLR(opt_i, warm))
        return opts, sch

    def _batch(self, batch) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """(x, labels or None, example indices or None) from x, (x,), (x, y), (x, y, index) or a
        mapping with "x" and optional "y", "index". Labels are dropped for an unconditional model."""
        if isinstance(batch, Mapping):
            x, y, idx = batch["x"], batch.get("y"), batch.get("index")
        elif isinstance(batch, (list, tuple)) and 1 <= len(batch) <= 3:
            x, y, idx = (*batch, None, None)[:3]
        else:
            x, y, idx = batch, None, None
        self._check_x(x)
        return x, (y if self.null_label is not None else None), idx

    def _normal(self, shape: tuple[int, ...], n: int, idx: Tensor | None, stream: int) -> Tensor:
        """N(0, I) draws (n, *shape): from the per-rank generator (``init_noise="rank"``) or, with
        ``"example"``, from the Philox stream of (seed, stream, index) at this iteration."""
        if self.hparams.init_noise == "rank":
            return self.standard_normal(shape, n, stream=stream, mode="rank")
        if idx is None:
            raise ValueError(
                "init_noise='example' needs example indices: give batches as (x, y, index) or "
                "{'x': ..., 'index': ...} (CDRLData(with_index=True)), or use init_noise='rank'"
            )
        return self.standard_normal(shape, n, idx=idx, stream=stream, offset=self._iterations, mode="example")

    def noisy_pair(self, x: Tensor, coef: LevelCoefficients, idx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(x_t, x_{t-1}) for data x: x_t = sqrt(alpha_t) x + sqrt(1 - alpha_t) eps (official
        ``diffusion_forward``). Variance reduction (official ``variance_reduction`` branch; the
        paper's section/equation unverified): x_{t-1} from the SAME eps; else x_{t-1} ~
        q(x_{t-1} | x_t, x) (official ``denoise_true``). Noise from ``_normal`` (module RNG)."""
        b, shape = x.shape[0], tuple(x.shape[1:])
        eps = self._normal(shape, b, idx, _DATA_STREAM).to(x.dtype)
        a_t, a_s = _bview(coef.alpha_t, x), _bview(coef.alpha_s, x)
        x_t = a_t.sqrt() * x + (1 - a_t).sqrt() * eps
        if self.hparams.variance_reduction:
            return x_t, a_s.sqrt() * x + (1 - a_s).sqrt() * eps
        # q(x_{t-1} | x_t, x): DDPM posterior with variance beta_tilde (Ho et al. 2020, eqs. 6-7)
        beta, m2 = _bview(coef.beta, x), a_t / a_s
        mean = a_s.sqrt() * beta / (1 - a_t) * x + m2.sqrt() * (1 - a_s) / (1 - a_t) * x_t
        eps2 = self._normal(shape, b, idx, _POSTERIOR_STREAM).to(x.dtype)
        return x_t, mean + _bview(coef.beta_tilde.sqrt(), x) * eps2

    def training_step(self, batch, batch_idx: int) -> Tensor:
        x, y, idx = self._batch(batch)
        h = self.hparams
        b = x.shape[0]
        u = _uniform(self._normal((2,), b, idx, _LEVEL_STREAM))  # (B, 2): level, label dropout
        t = (u[:, 0] * h.n_levels).long().clamp_(max=h.n_levels - 1).to(x.device) + 1
        if y is not None and h.p_uncond > 0:
            y = torch.where(u[:, 1].to(x.device) < h.p_uncond, self.null_label, y)
        coef = self._coef(t)
        x_t, x_s = self.noisy_pair(x, coef, idx)
        m = _bview(coef.scale, x)
        pos = m * x_s  # x~ of the data: (B, ...)
        if self.initializer is not None:
            eps = self._normal(tuple(x.shape[1:]), b, idx, _INIT_STREAM).to(x.dtype)
            noise = _bview((coef.beta_tilde * coef.scale**2).sqrt(), x) * eps
            prop = self.initializer(x_t, coef.logsnr_t, y) + noise
        else:
            prop = x_t
        self.ebm.eval()  # official: pi.eval() during the chain (no spectral-norm power step)
        neg = revise(lambda v: self.ebm(v, coef.logsnr_s, y), prop.detach(), x_t, coef,
                     self.schedule.step_coeff, h.n_steps, noise_scale=h.noise_scale, generator=self.rng)
        self.ebm.train()
        w = coef.weight
        e_pos, e_neg = self.ebm(pos, coef.logsnr_s, y), self.ebm(neg, coef.logsnr_s, y)
        loss_e = (w * e_neg).mean() - (w * e_pos).mean()
        loss_i = None
        if self.initializer is not None:
            loss_i = (neg.detach() - prop).square().flatten(1).sum(1).mean()
        # one backward of the sum over disjoint networks, so DDP syncs before either step
        self.cooperative_update(loss_e, loss_i)
        self._iterations += 1
        self._ema_update()
        logs = {"train/loss_ebm": loss_e.detach(), "train/g_pos": e_pos.mean().detach(),
                "train/g_neg": e_neg.mean().detach()}
        if loss_i is not None:
            logs["train/loss_init"] = loss_i.detach()
        self.log_dict(logs, prog_bar=True, on_step=True, on_epoch=False, batch_size=b)
        return loss_e.detach()

    @torch.no_grad()
    def _ema_update(self) -> None:
        """q <- d q + (1 - d) p for both nets, buffers copied (official ``torch_ema``
        ``ExponentialMovingAverage(decay=0.9999)``, updated after each optimiser step)."""
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
        x = self._batch(batch)[0]
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
        h = self.hparams
        for k, v in sample_quality(real, fake, h.fid_dataset, inception=h.fid_inception).items():
            self.log(f"{stage}/{k}", v, prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        self._quality("val")

    def on_test_epoch_end(self) -> None:
        self._quality("test")

    # ----------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)  # the sampler RNG of every rank: all training noise
        checkpoint[CKPT_KEY]["iterations"] = self._iterations

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        self._iterations = int(checkpoint.get(CKPT_KEY, {}).get("iterations", 0))
