"""STANLEY: a short-run, non-persistent EBM in data space trained by MLE with anisotropic Langevin.

Karimi, Xie, Li, "STANLEY: Stochastic Gradient Anisotropic Langevin Dynamics for Learning
Energy-Based Models", arXiv 2310.12667 (equations read from the authors' LaTeX source; see
``shared/papers/stanley.md``). p_theta(x) = exp(f_theta(x)) / Z(theta), f the network's output
(the core's energy E = -f). Algorithm 1, one iteration t:
    1-2. M chains from uniform noise on [-r, r] (``init_range``; images: r = 1), K steps of the
         sampler (``sampler.run_chains``: STANLEY's gamma = th / max(th, |grad f|),
         z <- z + (gamma/2) grad f + sqrt(gamma) eps xi, the core's ``anisotropic`` method;
         ``sampler="ula"``: the same K, step 1 and eps without gamma; ``"mala"``: with MH);
    3.   n data points plus N(0, ``data_noise``²) (0.03: the short-run recipe's config);
    4.   grad log p(theta) ≈ mean_i grad f(x_i) - mean_m grad f(z_K^m): the loss
         mean f(z_K) - mean f(x), descended (``energy_loss``);
    5.   theta <- theta + eta_t grad (SGD in the paper, Adam on CIFAR-10: ``energy_optim``).
Chains that turn NaN/inf are dropped from the negative term and counted
(``train/diverged_chains``); a step whose chains all diverged changes nothing.

Built on the core's ``CooperativeModule`` with no initializer (``initializer_loss`` None): the
base owns the training step (condition, data, proposals, revision, loss, one backward, the
optimiser step); this class fills ``propose`` (uniform noise), ``data`` (noisy positives),
``revise`` (the chains), ``energy_loss`` and the evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from latent_ebm.core.artifacts import save_image_grid, save_scatter
from latent_ebm.core.checks import as_shape, check_choice, check_int, check_real, require
from latent_ebm.core.lightning import CooperativeModule, Diagnostics, OptimConfig
from latent_ebm.core.rng import register_stream
from latent_ebm.core.samplers import LangevinSchedule, PersistentChains

from .data import TOYS
from .metrics import fid, mmd, toy_kl
from .nets import ToyNet, VanillaNet
from .sampler import SAMPLERS, VARIANTS, finite_rows, run_chains

__all__ = ["CHAINS", "ENERGY_OPTIM", "StanleyModule"]

INIT_STREAM = register_stream("stanley.init_noise", 0x57A0)  # the chains' uniform starts
DATA_STREAM = register_stream("stanley.data_noise", 0x57A1)  # the positives' Gaussian noise

# The paper's image settings (CIFAR-10, [tex22]): K = 50, unit step, eps = 0.01, th = 0.0002,
# per-element |g|. Adam lr 1e-4 on CIFAR-10 ([tex22]); betas: the core's default.
CHAINS = LangevinSchedule(n_steps=50, step_size=1.0, noise_scale=0.01, method="anisotropic", threshold=2e-4)
ENERGY_OPTIM = OptimConfig(lr=1e-4, algorithm="adam")


class _UniformStart:
    """Fresh chain starts U[-r, r] for the persistent buffer (picklable, for DDP spawn)."""

    def __init__(self, shape: tuple[int, ...], r: float) -> None:
        self.shape, self.r = shape, r

    def __call__(self, n: int, generator: torch.Generator | None) -> Tensor:
        device = generator.device if generator is not None else None
        return (torch.rand((n, *self.shape), generator=generator, device=device) * 2 - 1) * self.r


def _uniform(z: Tensor) -> Tensor:
    """U(0, 1) from N(0, 1) draws: Phi(z)."""
    return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))


class StanleyModule(CooperativeModule):
    """The short-run EBM of Algorithm 1, sampled by STANLEY, ULA or MALA.

    Args:
        data_shape: (C, 32, 32) images (``VanillaNet``) or (D,) vectors (``ToyNet``).
        width: n_f of the network (paper/code: 32); leak: LeakyReLU slope (0.05).
        sampler: ``stanley`` (the paper), ``ula`` (its "Langevin" baseline: same K, step, eps),
            ``mala`` (ULA + Metropolis-Hastings; for the toy, where exactness is measurable).
        variant: ``paper`` (default); ``code_both`` / ``code_noise``: the released code, not the
            paper (drift and noise both scaled by gamma / only the noise scaled; see ``sampler``).
        init_range: r, chains start uniform on [-r, r] (images 1; the toys' box 2.5).
        data_noise: sd of the Gaussian noise on positive samples (0.03).
        eval_samples: samples drawn at each validation/test epoch for MMD (and FID).
        eval_toy: a toy of ``data.TOYS`` to log KL(true || model) on a grid (2-d only).
        fid_dataset: ``mnist`` / ``fashion-mnist``: log ``fid_<dataset>-cnn`` (own classifier).
        persistent_chains: 0 (the paper: fresh chains every iteration) or the capacity of a buffer
            of persistent chains (the core's ``PersistentChains``; an option of the authors' code):
            each iteration continues a random batch of them, each replaced by a fresh uniform start
            with probability ``reinit_prob``; diverged chains are replaced by fresh starts. The
            buffer is in the state dict (each rank keeps its own under DDP).
    Args (the core's groups):
        revision: the chains: ``n_steps`` K (>= 1), ``step_size`` s (paper: 1), ``noise_scale``
            eps, ``threshold`` th, ``granularity`` of |g|; ``method`` is set from ``sampler``.
        energy_optim: the EBM's optimiser. initializer_optim: unused (no initializer).
        init_noise, seed: see the core's ``SeededModule``.
    Batches: ``{"x": (B, *data_shape), "index": (B,)}``.
    """

    def __init__(
        self,
        *,
        data_shape: tuple[int, ...] = (3, 32, 32),
        width: int = 32,
        leak: float = 0.05,
        sampler: Literal["stanley", "ula", "mala"] = "stanley",
        variant: Literal["paper", "code_both", "code_noise"] = "paper",
        init_range: float = 1.0,
        data_noise: float = 0.03,
        eval_samples: int = 256,
        eval_toy: Literal["rings", "mixture", "checkerboard"] | None = None,
        fid_dataset: Literal["mnist", "fashion-mnist"] | None = None,
        persistent_chains: int = 0,
        reinit_prob: float = 0.05,
        revision: LangevinSchedule = CHAINS,
        energy_optim: OptimConfig = ENERGY_OPTIM,
        initializer_optim: OptimConfig = ENERGY_OPTIM,
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__(revision=revision, energy_optim=energy_optim, initializer_optim=initializer_optim,
                         init_noise=init_noise, seed=seed)
        self.save_hyperparameters()
        data_shape = as_shape(data_shape, "data_shape")
        require("data_shape", data_shape, len(data_shape) == 1 or (len(data_shape) == 3 and data_shape[1:] == (32, 32)),
                "use (C, 32, 32) images or (D,) vectors")
        check_int("revision.n_steps", self.revision_schedule.n_steps, low=1)
        check_choice("sampler", sampler, SAMPLERS)
        check_choice("variant", variant, VARIANTS)
        require("variant", variant, variant == "paper" or sampler == "stanley",
                f"the released code's variants are STANLEY's; sampler={sampler!r} takes variant='paper'")
        if sampler == "mala":
            check_real("revision.noise_scale", self.revision_schedule.noise_scale, low=0.0, low_open=True)
        check_real("init_range", init_range, low=0.0, low_open=True)
        check_real("data_noise", data_noise, low=0.0)
        check_int("eval_samples", eval_samples, low=0)
        check_choice("eval_toy", eval_toy, (None, *TOYS))
        require("eval_toy", eval_toy, eval_toy is None or data_shape == (2,), "toy KL needs data_shape=(2,)")
        check_choice("fid_dataset", fid_dataset, (None, "mnist", "fashion-mnist"))
        require("fid_dataset", fid_dataset, fid_dataset is None or data_shape == (1, 32, 32),
                "the classifier FID takes (1, 32, 32) images")
        check_int("persistent_chains", persistent_chains, low=0)
        check_real("reinit_prob", reinit_prob, low=0.0, high=1.0)
        self.data_shape = data_shape
        self.buffer = (PersistentChains(persistent_chains, data_shape, reinit_prob,
                                        init=_UniformStart(data_shape, float(init_range)))
                       if persistent_chains else None)
        self.net = (ToyNet(data_shape[0], width, leak) if len(data_shape) == 1
                    else VanillaNet(data_shape[0], width, leak))
        self._val_real: list[Tensor] = []

    # ---- checks --------------------------------------------------------------------------------
    def split_batch(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        """(x, indices or None) from ``{"x", "index"}``; x is checked against ``data_shape``."""
        require("batch", type(batch).__name__, isinstance(batch, Mapping) and "x" in batch,
                "give a dict {'x': ..., 'index': ...} (StanleyDataModule's batches)")
        x = batch["x"]
        ok = isinstance(x, Tensor) and x.dim() >= 2 and tuple(x.shape[1:]) == self.data_shape
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        require("x.shape", got, ok, f"this model expects (B, {', '.join(map(str, self.data_shape))})")
        return x, batch.get("index")

    # ---- the base's hooks ----------------------------------------------------------------------
    def f(self, x: Tensor) -> Tensor:
        """f_theta(x) (B,): the log of the unnormalised density (the paper's f)."""
        return self.net(x)

    def energy(self, x: Tensor, cond: Any = None) -> Tensor:
        """E = -f (the core's convention, p ∝ exp(-E))."""
        return -self.net(x)

    def energy_parameters(self) -> Iterable[nn.Parameter]:
        return self.net.parameters()

    def initializer_parameters(self) -> Iterable[nn.Parameter]:
        return []

    def initializer_loss(self, x_init: Tensor, x_revised: Tensor, cond: Any) -> None:
        return None

    def _uniform_start(self, n: int, idx: Tensor | None, generator: torch.Generator | None = None) -> Tensor:
        z = self.standard_normal(self.data_shape, n, idx=idx, stream=INIT_STREAM, generator=generator)
        return (2.0 * _uniform(z) - 1.0) * self.hparams.init_range

    def condition(self, batch: Any) -> tuple[Tensor, Tensor] | None:
        """With persistent chains: (z_0, buffer slots) drawn from the buffer (module RNG); else None."""
        if self.buffer is None:
            return None
        x, _ = self.split_batch(batch)
        return self.buffer.sample(x.shape[0], generator=self.rng)

    def propose(self, batch: Any, cond: Any) -> Tensor:
        """z_0 ~ U[-r, r]^D per example (non-persistent chains; example-keyed with ``init_noise="example"``),
        or the persistent chains drawn by ``condition``."""
        x, idx = self.split_batch(batch)
        if cond is not None:
            return cond[0].to(x)
        return self._uniform_start(x.shape[0], idx).to(x.dtype)

    def sample_proposals(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        return self._uniform_start(n, None, generator)

    def data(self, batch: Any, cond: Any) -> Tensor:
        """x + N(0, data_noise²) (the short-run recipe's positive-sample noise)."""
        x, idx = self.split_batch(batch)
        if self.hparams.data_noise == 0:
            return x
        eps = self.standard_normal(self.data_shape, x.shape[0], idx=idx, stream=DATA_STREAM)
        return x + self.hparams.data_noise * eps.to(x.dtype)

    def revise(self, x_init: Tensor, cond: Any, *, diagnostics: Diagnostics | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """z_K: K steps of the sampler from z_0 (``sampler.run_chains``); diverged chains as NaN rows."""
        h = self.hparams
        z = run_chains(lambda v: self.energy(v), x_init.detach(), self.revision_schedule, sampler=h.sampler,
                       variant=h.variant, generator=self.rng if generator is None else generator,
                       callback=diagnostics)
        if cond is not None and self.training:  # persistent: write back (diverged: fresh starts)
            fresh = self.buffer.init(z.shape[0], self.rng).to(z)
            self.buffer.update(cond[1], torch.where(finite_rows(z).view(-1, *([1] * (z.dim() - 1))), z, fresh))
        return z

    def energy_loss(self, x_data: Tensor, x_revised: Tensor, cond: Any) -> tuple[Tensor, dict[str, Tensor]]:
        """mean f(z_K) - mean f(x) over the finite chains (minus Algorithm 1's step 4 objective);
        with no finite chain, a zero loss (no update) and the count logged."""
        ok = finite_rows(x_revised)
        f_pos = self.f(x_data)
        z = torch.where(ok.view(-1, *([1] * (x_revised.dim() - 1))), x_revised, torch.zeros_like(x_revised))
        f_neg = self.f(z.detach())
        n_ok = ok.sum()
        neg_mean = (f_neg * ok).sum() / n_ok.clamp_min(1)
        loss = torch.where(n_ok > 0, neg_mean - f_pos.mean(), 0.0 * f_pos.sum())
        logs = {"train/f_pos": f_pos.mean().detach(), "train/f_neg": neg_mean.detach(),
                "train/diverged_chains": (~ok).sum().float()}
        return loss, logs

    # ---- evaluation ------------------------------------------------------------------------------
    def eval_step(self, batch: Any, stage: str) -> Tensor:
        """The base's energy gap, and up to ``eval_samples`` real examples kept for MMD/FID."""
        x = self.split_batch(batch)[0]
        have = sum(len(r) for r in self._val_real)
        if have < self.hparams.eval_samples:
            self._val_real.append(x[: self.hparams.eval_samples - have].detach().cpu())
        return super().eval_step(batch, stage)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n samples: uniform starts, K steps of the training sampler; diverged ones as NaN rows."""
        check_int("n", n, low=1)
        with torch.enable_grad():
            return super().sample(n, generator=generator)

    def _quality(self, stage: str) -> None:
        h = self.hparams
        if h.eval_toy is not None:
            with torch.no_grad():
                f = lambda v: self.f(v.to(self.device))  # noqa: E731
                # the density the chains target, exp(f / eps^2) (x <- x + (s^2/2) g + s eps xi, any
                # step s), and exp(f) for comparison
                temp = self.revision_schedule.noise_scale ** 2
                self.log(f"{stage}/kl", toy_kl(f, h.eval_toy, temperature=temp), prog_bar=True)
                self.log(f"{stage}/kl_unit_temperature", toy_kl(f, h.eval_toy))
        if not self._val_real:
            return
        real = torch.cat(self._val_real)
        self._val_real = []
        fake = self.sample(len(real)).cpu()
        self.log(f"{stage}/diverged_samples", float((~finite_rows(fake)).sum()))
        self.log(f"{stage}/mmd", mmd(real, fake), prog_bar=True)
        if h.fid_dataset is not None:
            self.log(f"{stage}/fid_{h.fid_dataset}-cnn", fid(real, fake, h.fid_dataset), prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        self._quality("val")

    def on_test_epoch_end(self) -> None:
        self._quality("test")

    # ---- predict ---------------------------------------------------------------------------------
    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        """One sample per example of the batch."""
        x, _ = self.split_batch(batch)
        return self.sample(x.shape[0]).cpu()

    def write_predictions(self, predictions: Sequence[Tensor], out_dir: Path) -> list[Path]:
        """``samples.png`` (an image grid, or a scatter for 2-d data), ``samples.csv`` for vectors."""
        x = torch.cat(list(predictions))
        out_dir = Path(out_dir)
        if x.dim() == 4:
            return [save_image_grid(x.nan_to_num(0.0), out_dir / "samples.png")]
        written = [save_scatter(x, out_dir / "samples.png")] if x.shape[1] == 2 else []
        cols = ",".join(f"x{i}" for i in range(x.shape[1]))
        csv = out_dir / "samples.csv"
        csv.write_text(cols + "\n" + "".join(",".join(f"{v:.5f}" for v in row) + "\n" for row in x.tolist()))
        return [*written, csv]
