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
   (``torch_ema`` 0.9999 with its warm-up, see :func:`ema_decay_at`); spectral norm in the EBM
   (``models/ebm.py``, ``use_sn``).

Built on the core's ``CooperativeModule``, which owns the training step (one backward of the
summed losses over the two disjoint networks, so DDP reduces every gradient before either
optimiser steps; per-optimiser clip, step and warm-up) and the per-rank sampler RNG
(checkpointed; it drives every random draw of training, see ``init_noise``). This class fills
its hooks: ``condition`` (steps 1 and 3's draws), ``data`` (the positive sample),
``propose`` / ``revise`` (step 3), ``energy_loss`` (step 2), ``initializer_loss`` (step 4);
the EMA follows each step in ``on_train_batch_end``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor, nn

from latent_ebm.core.artifacts import save_image_grid, save_scatter
from latent_ebm.core.checks import as_shape, check_choice, check_int, check_real, require
from latent_ebm.core.lightning import CooperativeModule, Diagnostics, OptimConfig
from latent_ebm.core.nn import batch_view
from latent_ebm.core.rng import register_stream
from latent_ebm.core.samplers import LangevinSchedule

from .metrics import sample_quality
from .nets import EnergyNet, Initializer, UNetInitializer
from .sampler import revise, sample_levels
from .schedule import LevelCoefficients, NoiseSchedule

__all__ = ["ENERGY_OPTIM", "INITIALIZER_OPTIM", "REVISION", "CDRLModule", "Draws", "ema_decay_at"]

# Philox streams of the per-example training draws (``SeededModule.standard_normal``); the ids
# predate the core's registry and are kept so that runs replay.
LEVEL_STREAM = register_stream("cdrl.level", 0xC0)  # level t and label dropout
DATA_STREAM = register_stream("cdrl.data_noise", 0xC1)  # eps of x_t (and x_{t-1})
INIT_STREAM = register_stream("cdrl.initializer_noise", 0xC2)  # eps' of the proposal
POSTERIOR_STREAM = register_stream("cdrl.posterior_noise", 0xC3)  # x_{t-1} ~ q(. | x_t, x)

# The official settings (AlvinZhuyx/CDRL ``main_uncond.py``): K = 15 Langevin steps per level
# (DRL: 30), step 1 in y = x~ / s_t (the per-level step s_t comes from the schedule, see
# ``sampler``); EBM: Adam lr 1e-4, betas (0.9, 0.999) (``pi_optimizer``); initializer: AdamW
# lr 1e-5, weight decay 0 (``p_optimizer``); both warm up over 10k iterations and clip the
# gradient norm at 1 (``clip_grad_norm``).
REVISION = LangevinSchedule(n_steps=15, step_size=1.0)
ENERGY_OPTIM = OptimConfig(lr=1e-4, algorithm="adam", betas=(0.9, 0.999), warmup_steps=10000, grad_clip=1.0)
INITIALIZER_OPTIM = OptimConfig(lr=1e-5, algorithm="adamw", betas=(0.9, 0.999), weight_decay=0.0,
                                warmup_steps=10000, grad_clip=1.0)


def ema_decay_at(n: int, decay: float, warmup: bool = True) -> float:
    """The EMA decay of the n-th update (n = 1, 2, ...): min(decay, (1 + n) / (10 + n)) with the
    warm-up, else ``decay``. Official: ``torch_ema.ExponentialMovingAverage`` (default
    ``use_num_updates=True``) counts the update first, then takes this min, so the first update
    uses 2/11 and 0.9999 is reached at n = 89,990."""
    return min(decay, (1.0 + n) / (10.0 + n)) if warmup else decay


class Draws(NamedTuple):
    """Everything random one training step needs, drawn once by :meth:`CDRLModule.condition`
    (and the condition of the conditional energy): per example (B rows)."""

    t: Tensor  # levels in 1..n, (B,) int64
    y: Tensor | None  # labels after dropout (null label = num_classes); None: unconditional
    coef: LevelCoefficients  # the levels' coefficients, on the module's device
    x_t: Tensor  # the noisier sample, (B, ...)
    x_prev: Tensor  # x_{t-1}, (B, ...)
    init_eps: Tensor | None  # eps' of the initializer's proposal (None: DRL)


def _uniform(z: Tensor) -> Tensor:
    """U(0, 1) from N(0, 1) draws, Phi(z), in float64."""
    return 0.5 * (1.0 + torch.erf(z.double() / math.sqrt(2.0)))


class CDRLModule(CooperativeModule):
    """Cooperative diffusion recovery likelihood EBM (or DRL with ``use_initializer=False``).

    Args:
        data_shape: (C, H, W) images or (D,) vectors.
        n_levels, logsnr_min, logsnr_max, step_coeff: the schedule (official 6, -5.1, 9.8, 2e-4).
        sample_steps: K Langevin steps per level at sampling time (None: ``revision.n_steps``).
        use_initializer: CDRL (True) or DRL (False).
        variance_reduction: shared noise for x_t and x_{t-1} (official ``variance_reduction``).
        num_classes: > 0 trains a class-conditional EBM and initializer with label dropout
            ``p_uncond`` (classifier-free guidance, null label = num_classes).
        ebm_*, init_*: network sizes; spectral_norm on the EBM (official: on). The official EBM
            has ``ebm_blocks=8`` per resolution (``pi_n_blocks = 8``; 34,833,152 parameters at
            width 128, mult (1, 2, 2, 2) on CIFAR-10).
        init_arch: ``"small"``, the package's small UNet (one block per resolution, no
            attention; ``init_width``, ``init_mult``), or ``"ddpm"``, the official DDPM UNet
            (:class:`~latent_ebm.cdrl.nets.UNetInitializer`; images only): ``init_width``,
            ``init_mult``, ``init_blocks`` per resolution, self-attention at the side lengths
            ``init_attention`` and in the middle, dropout ``init_dropout`` (official 64,
            (1, 1, 1), 3, (16, 8), 0.1). ``init_blocks``/``init_attention``/``init_dropout`` are
            unused by ``"small"``.
        ema_decay: EMA of both networks after every step (official 0.9999); ema_warmup: decay
            min(ema_decay, (1 + n) / (10 + n)) at the n-th update (official ``torch_ema``
            default; :func:`ema_decay_at`), False: ``ema_decay`` from the first update. The
            update count n is the buffer ``ema_updates`` (in the state dict, so a resumed run
            continues the same sequence).
        eval_samples: samples drawn (EMA nets) at each validation for the quality figure;
            fid_dataset: train/load the offline FID classifier of that dataset (images only),
            logged as ``fid_<dataset>-cnn``; fid_inception: Inception-v3 FID instead
            (torchmetrics/torch-fidelity weights, ``pip install latent-ebm-cdrl[fid]``), logged as
            ``fid_inception``. The two are exclusive: their numbers are never comparable.

    Args (the core's groups):
        revision: the training chain at each level, in y = x~ / s_t: ``n_steps`` is K (official
            15; DRL 30; >= 1), ``step_size`` multiplies the per-level step s_t (1 = the paper),
            ``noise_scale`` the noise (1 = the paper; 0 = noiseless, for exact split/DDP
            checks). Sampling uses the same settings with ``sample_steps`` steps.
        energy_optim, initializer_optim: the EBM's and the initializer's optimisers (official:
            :data:`ENERGY_OPTIM`, :data:`INITIALIZER_OPTIM`; the initializer's is unused by DRL).
            Warm-up: the official code's factor is min(1, step / warmup) for the EBM (lr 0 at
            the first step) and min(1, (step + 500) / warmup) for the initializer; the suite's
            one schedule (core ``OptimConfig``) is (step + 1) / (warmup_steps + 1) for both.
        init_noise: ``"rank"`` draws every training noise (levels, data noise, initializer noise,
            label dropout) from the per-rank generator; ``"example"`` keys them by example index
            and iteration, so they do not depend on batch split or world size (batches must
            carry ``"index"``, as ``CDRLDataModule``'s do). The Langevin noise always comes from
            the per-rank generator (one Philox stream per chain batch); use
            ``revision.noise_scale=0`` where runs must not depend on the split.
        seed: base seed of the sampler RNG (None: the global seed).

    Batches are dicts ``{"x": (B, *data_shape), "y": (B,) labels, "index": (B,)}``.
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
        init_arch: Literal["small", "ddpm"] = "small",
        init_blocks: int = 3,
        init_attention: tuple[int, ...] = (16, 8),
        init_dropout: float = 0.1,
        ema_decay: float = 0.9999,
        ema_warmup: bool = True,
        eval_samples: int = 256,
        fid_dataset: Literal["mnist", "fashion-mnist"] | None = None,
        fid_inception: bool = False,
        revision: LangevinSchedule = REVISION,
        energy_optim: OptimConfig = ENERGY_OPTIM,
        initializer_optim: OptimConfig = INITIALIZER_OPTIM,
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__(revision=revision, energy_optim=energy_optim, initializer_optim=initializer_optim,
                         init_noise=init_noise, seed=seed)
        self.save_hyperparameters()
        data_shape = as_shape(data_shape, "data_shape")
        require("data_shape", data_shape, len(data_shape) in (1, 3), "use (C, H, W) images or (D,) vectors")
        check_int("revision.n_steps", self.revision_schedule.n_steps, low=1)
        check_int("sample_steps", sample_steps, low=1, allow_none=True)
        for name, flag in (("use_initializer", use_initializer), ("variance_reduction", variance_reduction),
                           ("spectral_norm", spectral_norm), ("fid_inception", fid_inception),
                           ("ema_warmup", ema_warmup)):
            check_choice(name, flag, (True, False))
        check_int("num_classes", num_classes, low=0)
        check_real("p_uncond", p_uncond, low=0.0, high=1.0, high_open=True)
        for name, value in (("ebm_width", ebm_width), ("ebm_blocks", ebm_blocks), ("init_width", init_width),
                            ("init_blocks", init_blocks)):
            check_int(name, value, low=1)
        check_choice("init_arch", init_arch, ("small", "ddpm"))
        check_real("init_dropout", init_dropout, low=0.0, high=1.0, high_open=True)
        if init_arch == "ddpm":
            require("init_arch", init_arch, len(data_shape) == 3,
                    f"the DDPM UNet needs (C, H, W) images (got data_shape={data_shape}); use 'small'")
        ebm_mult, init_mult = as_shape(ebm_mult, "ebm_mult"), as_shape(init_mult, "init_mult")
        check_real("ema_decay", ema_decay, low=0.0, high=1.0, high_open=True)
        check_int("eval_samples", eval_samples, low=0)
        check_choice("fid_dataset", fid_dataset, (None, "mnist", "fashion-mnist"))
        if fid_inception:
            require("fid_inception", fid_inception, fid_dataset is None and len(data_shape) == 3,
                    f"it needs image data (got data_shape={data_shape}) and fid_dataset=None (got "
                    f"{fid_dataset!r}): Inception and classifier FIDs are never computed together")
        self.data_shape = data_shape
        self.schedule = NoiseSchedule(n_levels, logsnr_min, logsnr_max, step_coeff)
        self.ebm = EnergyNet(data_shape, ebm_width, ebm_mult, ebm_blocks, spectral_norm, num_classes)
        self.initializer: nn.Module | None = None
        if use_initializer and init_arch == "ddpm":
            self.initializer = UNetInitializer(data_shape, init_width, init_mult, init_blocks,
                                               tuple(init_attention), init_dropout, num_classes)
        elif use_initializer:
            self.initializer = Initializer(data_shape, init_width, init_mult, num_classes)
        # EMA copies and the update count live in the state dict, so checkpoints carry them
        # (official: torch_ema, 0.9999, whose state_dict keeps num_updates).
        self.ebm_ema = copy.deepcopy(self.ebm).requires_grad_(False)
        self.initializer_ema = copy.deepcopy(self.initializer).requires_grad_(False) if use_initializer else None
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        self._val_real: list[Tensor] = []

    # ----------------------------------------------------------------- helpers
    @property
    def null_label(self) -> int | None:
        return self.hparams.num_classes if self.hparams.num_classes > 0 else None

    def coefficients(self, t: Tensor) -> LevelCoefficients:
        """``NoiseSchedule.coefficients(t)`` on the module's device."""
        c = self.schedule.coefficients(t)
        return LevelCoefficients(*(v.to(self.device) for v in c.__dict__.values()))

    def _check_x(self, x: Any, name: str = "x") -> None:
        ok = isinstance(x, Tensor) and x.dim() >= 2 and tuple(x.shape[1:]) == self.data_shape
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        require(f"{name}.shape", got, ok, f"this model expects (B, {', '.join(map(str, self.data_shape))})")

    def _check_labels(self, labels: Tensor | None, guidance: float, n: int) -> Tensor | None:
        if self.null_label is None:
            unconditional = "it needs a class-conditional model (num_classes > 0); this model is unconditional"
            require("labels", "given", labels is None, unconditional)
            require("guidance", guidance, guidance == 1.0, unconditional)
            return None
        if labels is None:
            return None
        labels = torch.as_tensor(labels, device=self.device).long()
        require("labels", f"shape {tuple(labels.shape)}", labels.dim() in (1, 2) and labels.shape[0] == n,
                f"it must have shape ({n},) or ({n}, J)")
        lo, hi = int(labels.min()), int(labels.max())
        require("labels", f"range {lo}..{hi}", lo >= 0 and hi < self.hparams.num_classes,
                f"labels must lie in 0..{self.hparams.num_classes - 1}")
        return labels

    def split_batch(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        """(x, example indices or None) from a batch dict ``{"x", "y", "index"}``; x is checked
        against ``data_shape``."""
        require("batch", type(batch).__name__, isinstance(batch, Mapping) and "x" in batch,
                "give a dict {'x': ..., 'y': ..., 'index': ...} (CDRLDataModule's batches)")
        self._check_x(batch["x"])
        return batch["x"], batch.get("index")

    def _labels(self, batch: Mapping) -> Tensor | None:
        """The batch's labels for a class-conditional model; None for an unconditional one."""
        return batch.get("y") if self.null_label is not None else None

    def _normal(self, shape: tuple[int, ...], n: int, idx: Tensor | None, stream: int) -> Tensor:
        """N(0, I) draws (n, *shape): from the per-rank generator (``init_noise="rank"``) or, with
        ``"example"``, from the Philox stream of (seed, stream, index) at this iteration (the
        core raises if the batch has no indices)."""
        return self.standard_normal(shape, n, idx=idx, stream=stream, mode=self.init_noise)

    def noisy_pair(self, x: Tensor, coef: LevelCoefficients, idx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(x_t, x_{t-1}) for data x: x_t = sqrt(alpha_t) x + sqrt(1 - alpha_t) eps (official
        ``diffusion_forward``). Variance reduction (official ``variance_reduction`` branch; the
        paper's section/equation unverified): x_{t-1} from the SAME eps; else x_{t-1} ~
        q(x_{t-1} | x_t, x) (official ``denoise_true``). Noise from ``_normal`` (module RNG)."""
        b, shape = x.shape[0], tuple(x.shape[1:])
        eps = self._normal(shape, b, idx, DATA_STREAM).to(x.dtype)
        a_t, a_s = batch_view(coef.alpha_t, x), batch_view(coef.alpha_s, x)
        x_t = a_t.sqrt() * x + (1 - a_t).sqrt() * eps
        if self.hparams.variance_reduction:
            return x_t, a_s.sqrt() * x + (1 - a_s).sqrt() * eps
        # q(x_{t-1} | x_t, x): DDPM posterior with variance beta_tilde (Ho et al. 2020, eqs. 6-7)
        beta, m2 = batch_view(coef.beta, x), a_t / a_s
        mean = a_s.sqrt() * beta / (1 - a_t) * x + m2.sqrt() * (1 - a_s) / (1 - a_t) * x_t
        eps2 = self._normal(shape, b, idx, POSTERIOR_STREAM).to(x.dtype)
        return x_t, mean + batch_view(coef.beta_tilde.sqrt(), x) * eps2

    # ----------------------------------------------------------------- sampling
    def sample_proposals(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """x_n ~ N(0, I), (n, *data_shape): where the level-by-level sampler starts (the
        initializer then proposes at every level from the previous level's sample). Drawn from
        ``generator`` (None: the global RNG, never the training generator)."""
        return torch.randn((n, *self.data_shape), generator=generator, device=self.device)

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
        """Draw ``n`` samples (n, *data_shape) from noise through all levels (``sample_levels``):
        the core's ``sample(n, generator=)`` with CDRL's own keywords.

        ``n_steps``: K per level (default ``sample_steps``, else ``revision.n_steps``); the chain
        otherwise follows ``revision``. ``labels`` (n,) or (n, J) with ``guidance`` w
        (0 = unconditional, 1 = conditional; J > 1 composes the conditions); ``known``/``mask``
        inpaint; ``use_langevin=False``: initializer alone; ``use_ema``: the EMA networks.
        """
        check_int("n", n, low=1)
        k = n_steps if n_steps is not None else (self.hparams.sample_steps or self.revision_schedule.n_steps)
        check_int("n_steps", k, low=1)
        check_real("guidance", guidance)
        labels = self._check_labels(labels, float(guidance), n)
        require("mask", "given" if mask is not None else None, (known is None) == (mask is None),
                "known and mask must be given together for inpainting")
        if known is not None:
            self._check_x(known, "known")
            self._check_x(mask, "mask")
            require("known", f"{known.shape[0]} rows", known.shape[0] == n, f"it must have n={n} rows")
            known, mask = known.to(self.device), mask.to(self.device, known.dtype)
        ebm = self.ebm_ema if use_ema else self.ebm
        init = self.initializer_ema if use_ema else self.initializer
        nets = [m for m in (ebm, init) if m is not None]
        was = [m.training for m in nets]
        for m in nets:
            m.eval()
        x_n = self.sample_proposals(n, generator=generator)
        try:
            return sample_levels(self.schedule, ebm, init, x_n, replace(self.revision_schedule, n_steps=k),
                                 labels=labels, guidance=float(guidance), null_label=self.null_label,
                                 known=known, mask=mask, use_langevin=use_langevin, denoise=denoise,
                                 generator=generator)
        finally:
            for m, w in zip(nets, was):
                m.train(w)

    # ----------------------------------------------------------------- CooperativeModule hooks
    def energy_parameters(self) -> Iterable[nn.Parameter]:
        return self.ebm.parameters()

    def initializer_parameters(self) -> Iterable[nn.Parameter]:
        return [] if self.initializer is None else self.initializer.parameters()

    def energy(self, x: Tensor, cond: Draws) -> Tensor:
        """Conditional energy -log p(x~ | x_t) + const at the levels of ``cond`` (B,):
        E = -g(x~) / s_t^2 + ||x~ - x_t||^2 / (2 sigma_t^2), no tether at the final level
        (Gao et al. 2021, sec. 3; the step-size parameterisation of ``sampler``)."""
        coef = cond.coef
        quad = (x - cond.x_t).square().flatten(1).sum(1) * (1 - coef.final) / (2 * coef.beta)
        return -self.ebm(x, coef.logsnr_s, cond.y) / coef.step_sq + quad

    def condition(self, batch: Mapping) -> Draws:
        """Every random draw of one step, in a fixed order (streams in ``init_noise="example"``
        mode): levels t ~ U{1..n} and label dropout (LEVEL), the data noise of x_t and x_{t-1}
        (DATA, and POSTERIOR without variance reduction), the initializer's eps' (INIT, CDRL)."""
        x, idx = self.split_batch(batch)
        y = self._labels(batch)
        b, shape, n = x.shape[0], tuple(x.shape[1:]), self.schedule.n_levels
        u = _uniform(self._normal((2,), b, idx, LEVEL_STREAM))  # (B, 2): level, label dropout
        t = (u[:, 0] * n).long().clamp_(max=n - 1).to(x.device) + 1
        p_uncond = self.hparams.p_uncond
        if y is not None and p_uncond > 0:
            y = torch.where(u[:, 1].to(x.device) < p_uncond, self.null_label, y)
        coef = self.coefficients(t)
        x_t, x_prev = self.noisy_pair(x, coef, idx)
        init_eps = None
        if self.initializer is not None:
            init_eps = self._normal(shape, b, idx, INIT_STREAM).to(x.dtype)
        return Draws(t, y, coef, x_t, x_prev, init_eps)

    def data(self, batch: Mapping, cond: Draws) -> Tensor:
        """The positive sample x~ = m_t x_{t-1} (the EBM of level t scores scaled samples)."""
        return batch_view(cond.coef.scale, cond.x_prev) * cond.x_prev

    def propose(self, batch: Mapping, cond: Draws) -> Tensor:
        """x~_0 = U(x_t) + sqrt(beta_tilde_t m_t^2) eps' (CDRL; official ``p_with_noise``,
        small reverse variance), or x_t (DRL)."""
        if self.initializer is None:
            return cond.x_t
        coef = cond.coef
        noise = batch_view((coef.beta_tilde * coef.scale**2).sqrt(), cond.x_t) * cond.init_eps
        return self.initializer(cond.x_t, coef.logsnr_t, cond.y) + noise

    def revise(self, x_init: Tensor, cond: Draws, *, diagnostics: Diagnostics | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """x~_K: ``revision.n_steps`` Langevin steps on p(x~ | x_t) from x~_0 (``sampler.revise``),
        with the EBM in eval mode (official: ``pi.eval()`` during the chain, so spectral norm
        takes no power-iteration step); noise from ``generator`` (default the module's)."""
        coef, y = cond.coef, cond.y
        was = self.ebm.training
        self.ebm.eval()
        try:
            return revise(lambda v: self.ebm(v, coef.logsnr_s, y), x_init.detach(), cond.x_t, coef,
                          self.schedule.step_coeff, self.revision_schedule, callback=diagnostics,
                          generator=self.rng if generator is None else generator)
        finally:
            self.ebm.train(was)

    def energy_loss(self, x_data: Tensor, x_revised: Tensor, cond: Draws) -> tuple[Tensor, dict[str, Tensor]]:
        """E[w g(x~_K)] - E[w g(m_t x_{t-1})], w = sigma_1 / sigma_t (official ``pi_loss_weight``):
        minus the recovery-likelihood gradient's objective (DRL, Gao et al. 2021, sec. 3)."""
        w, ls, y = cond.coef.weight, cond.coef.logsnr_s, cond.y
        e_pos, e_neg = self.ebm(x_data, ls, y), self.ebm(x_revised.detach(), ls, y)
        loss = (w * e_neg).mean() - (w * e_pos).mean()
        return loss, {"train/g_pos": e_pos.mean().detach(), "train/g_neg": e_neg.mean().detach()}

    def initializer_loss(self, x_init: Tensor, x_revised: Tensor, cond: Draws) -> Tensor | None:
        """E ||x~_K - x~_0||^2 (MCMC teaching; official ``p_loss``); None for DRL."""
        if self.initializer is None:
            return None
        return (x_revised.detach() - x_init).square().flatten(1).sum(1).mean()

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """After the base's step (both optimisers stepped): the EMA update."""
        super().on_train_batch_end(outputs, batch, batch_idx)
        self.update_ema()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """A checkpoint saved before ``ema_updates`` existed: the EMA had one update per
        iteration, so the count is the saved iteration count."""
        super().on_load_checkpoint(checkpoint)
        weights = checkpoint.get("state_dict")
        if isinstance(weights, dict) and "ema_updates" not in weights:
            weights["ema_updates"] = torch.tensor(self.iterations, dtype=torch.long)

    @torch.no_grad()
    def update_ema(self) -> None:
        """n <- n + 1, then q <- d q + (1 - d) p for both nets with d = :func:`ema_decay_at` (n),
        buffers copied (official ``torch_ema`` ``ExponentialMovingAverage(decay=0.9999)``,
        updated after each optimiser step)."""
        self.ema_updates += 1
        d = ema_decay_at(int(self.ema_updates), self.hparams.ema_decay, self.hparams.ema_warmup)
        pairs = [(self.ebm, self.ebm_ema), (self.initializer, self.initializer_ema)]
        for net, ema in pairs:
            if net is None:
                continue
            for p, q in zip(net.parameters(), ema.parameters()):
                q.lerp_(p, 1.0 - d)
            for p, q in zip(net.buffers(), ema.buffers()):
                q.copy_(p)

    # ----------------------------------------------------------------- evaluation
    def eval_step(self, batch: Any, stage: str) -> None:
        """Keep up to ``eval_samples`` real examples; the quality figure (MMD / FID of EMA
        samples against them) is computed at the end of the epoch."""
        x = self.split_batch(batch)[0]
        have = sum(len(r) for r in self._val_real)
        if have < self.hparams.eval_samples:
            self._val_real.append(x[: self.hparams.eval_samples - have].detach().cpu())

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

    # ----------------------------------------------------------------- predict
    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """One sample per example of the batch (:meth:`sample`: EMA networks, ``sample_steps``
        per level): ``{"x": samples}``, plus, for a class-conditional model, ``"y"``: the class
        each sample was drawn for (the example's index mod ``num_classes``)."""
        x, idx = self.split_batch(batch)
        n, labels = x.shape[0], None
        if self.null_label is not None:
            idx = torch.arange(n) if idx is None else idx
            labels = idx.to(self.device).long() % self.hparams.num_classes
        out = {"x": self.sample(n, labels=labels).cpu()}
        return out if labels is None else {**out, "y": labels.cpu()}

    def write_predictions(self, predictions: Sequence[Mapping[str, Tensor]], out_dir: Path) -> list[Path]:
        """What ``predict`` leaves (the core's ``PredictionWriter`` calls this): ``samples.png``,
        an image grid (a class-conditional model: one column per class) or, for 2-d data, a
        scatter of the samples; ``samples.csv`` for vector data (one sample per line); and
        ``samples.pt``, ``{"x": (N, *data_shape)[, "y": (N,) classes]}``."""
        x = torch.cat([p["x"] for p in predictions])
        y = torch.cat([p["y"] for p in predictions]) if "y" in predictions[0] else None
        out_dir = Path(out_dir)
        tensors = out_dir / "samples.pt"
        torch.save({"x": x} if y is None else {"x": x, "y": y}, tensors)
        if x.dim() == 4:
            nrow = self.hparams.num_classes if y is not None else None
            return [save_image_grid(x.nan_to_num(0.0), out_dir / "samples.png", nrow=nrow), tensors]
        written = []
        if x.shape[1] == 2:
            written.append(save_scatter(x, out_dir / "samples.png"))
        cols = [f"x{i}" for i in range(x.shape[1])] + ([] if y is None else ["class"])
        lines = [",".join(cols)]
        for i, row in enumerate(x.tolist()):
            lines.append(",".join([f"{v:.5f}" for v in row] + ([] if y is None else [str(int(y[i]))])))
        csv = out_dir / "samples.csv"
        csv.write_text("\n".join(lines) + "\n")
        return [*written, csv, tensors]
