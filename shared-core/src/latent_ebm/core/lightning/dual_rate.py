"""Dual-rate variational Bayes: per-example local posteriors fitted fast, global weights slowly.

Kong, Zhao, Xu, Pang, Wang, Honig, Si, Li, Xie, Xie, Wu, "Latent Thought Models with Variational
Bayes Inference-Time Computation", ICML 2025 (LTM), sec. "Learning and inference":
    q(z | x) = N(mu, diag sigma²), (mu, log sigma²) free per example, no encoder;
    ELBO(beta, mu, sigma) = E_q[log p_beta(x | z)] - KL(N(mu, sigma²) || N(0, I));
    fast:  T_fast AdamW steps on (mu, log sigma²) maximising the ELBO, z = mu + eps * sigma with one
           eps fixed for the whole loop, lr cosine-decayed from eta_fast to eta_fast * ratio;
    slow:  z = mu + eps * sigma (detached), one optimiser step on beta for ``slow_loss(x, z)``.
Settings follow the first-party code (``PosteriorOptimizer``): AdamW(betas 0.9/0.999, eps 1e-8,
torch's default weight decay 0.01), decay ratio t / T_fast, decoder in eval mode during the loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from latent_ebm.core.checks import check_int
from latent_ebm.core.lightning.config import FastLoop, OptimConfig
from latent_ebm.core.nn.functional import gaussian_kl
from latent_ebm.core.rng import register_stream

from ._base import NoiseMode, SeededModule
from .optim import warmup_cosine

__all__ = ["DualRateModule", "LocalPosterior"]

_MU_STREAM = register_stream("core.fast_mu", 11)
_LOGVAR_STREAM = register_stream("core.fast_logvar", 12)
_EPS_STREAM = register_stream("core.fast_eps", 13)


class LocalPosterior(NamedTuple):
    """q(z | x) = N(mu, diag exp(logvar)) per example, with the loop's fixed noise eps.

    All three are (B, *latent_shape); ``z`` = mu + eps * exp(logvar / 2).
    """

    mu: Tensor
    logvar: Tensor
    eps: Tensor

    @property
    def z(self) -> Tensor:
        return self.mu + self.eps * torch.exp(0.5 * self.logvar)


@contextmanager
def _frozen(params: list[nn.Parameter]) -> Iterator[None]:
    """requires_grad off for ``params`` (no weight-gradient work or saved inputs) and back."""
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)


class DualRateModule(SeededModule):
    """Base LightningModule for LTM-style dual-rate VB. Automatic optimisation for the slow step.

    A package provides ``nll(x, z) -> (B,)`` (negative log-likelihood summed over tokens) and
    ``latent_shape`` (tuple, without the batch dim); it may override ``slow_loss`` (default
    ``nll(x, z).mean()``; LTM uses the token-mean cross-entropy), ``global_parameters``,
    ``elbo_terms`` and ``eval_step``. The base runs each training step: the fast loop, then the
    slow loss returned to Lightning, whose optimiser (``optim``, with its schedule) steps and
    clips (``optim.grad_clip``, in ``configure_gradient_clipping``), with gradient accumulation
    if the Trainer asks for it.

    The fast loop takes gradients w.r.t. (mu, logvar) only (``torch.autograd.grad``, decoder
    frozen), so nothing is synchronised across DDP ranks for it and the decoder receives only
    the slow gradient. ``fast.accumulate_grads=True`` reproduces the first-party code instead:
    its inner ``loss.backward()`` also accumulates sum_t grad_beta(sum_b nll + kl) into the
    decoder, which the slow step then adds to its own gradient. Here those gradients are
    collected with ``autograd.grad`` and added through a surrogate term sum(p * g) in the slow
    loss, so the one backward (and its DDP all-reduce, which averages them across ranks) carries
    them.

    Args:
        fast: the fast loop's settings (:class:`FastLoop`).
        optim: the slow optimiser over ``global_parameters()`` (:class:`OptimConfig`).
        init_noise, seed: see :class:`SeededModule` (``"example"`` keys init and eps by index).
    """

    def __init__(
        self,
        *,
        fast: FastLoop = FastLoop(),
        optim: OptimConfig = OptimConfig(lr=1e-3),
        init_noise: NoiseMode = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__(init_noise=init_noise, seed=seed)
        self.fast = self.group(FastLoop, fast, "fast")
        self.optim = self.group(OptimConfig, optim, "optim")

    # ---- what subclasses provide -----------------------------------------------------------------
    latent_shape: tuple[int, ...]

    def nll(self, x: Any, z: Tensor) -> Tensor:
        """-log p(x | z) summed over tokens/dimensions, (B,)."""
        raise NotImplementedError

    def slow_loss(self, x: Any, z: Tensor) -> Tensor:
        """The slow step's loss at the fitted z (detached): default ``nll(x, z).mean()``."""
        return self.nll(x, z).mean()

    def global_parameters(self) -> Iterable[nn.Parameter]:
        """The slow parameters beta (default: all parameters that require grad)."""
        return [p for p in self.parameters() if p.requires_grad]

    # ---- the fast loop ------------------------------------------------------------------------------
    def elbo_terms(self, x: Any, local: LocalPosterior) -> tuple[Tensor, Tensor]:
        """(nll (B,) at z = mu + eps sigma, KL(q || N(0, I)) (B,)); ELBO = -(nll + kl)."""
        return self.nll(x, local.z), gaussian_kl(local.mu, local.logvar)

    def init_local(self, x: Any, *, idx: Tensor | None = None,
                   generator: torch.Generator | None = None) -> LocalPosterior:
        """mu ~ N(0, init_mu_std²), logvar = init_logvar + init_logvar_std N(0, 1), eps ~ N(0, I)."""
        f = self.fast
        b, shape = self.batch_size_of(x), tuple(self.latent_shape)
        kw = {"idx": idx, "generator": generator}
        mu = f.init_mu_std * self.standard_normal(shape, b, stream=_MU_STREAM, **kw)
        logvar = f.init_logvar + f.init_logvar_std * self.standard_normal(shape, b, stream=_LOGVAR_STREAM, **kw)
        eps = self.standard_normal(shape, b, stream=_EPS_STREAM, **kw)
        return LocalPosterior(mu, logvar, eps)

    def fit_local(
        self, x: Any, steps: int, *, generator: torch.Generator | None = None, idx: Tensor | None = None
    ) -> LocalPosterior:
        """The fast loop: ``steps`` AdamW steps on (mu, logvar) maximising sum_b ELBO_b.

        Returns the fitted LocalPosterior (detached). Needs autograd: raises under
        ``torch.inference_mode`` (build the Trainer with ``inference_mode=False``).
        """
        return self._fit_local(x, steps, generator=generator, idx=idx, accumulate=False)[0]

    def _fit_local(
        self, x: Any, steps: int, *, generator: torch.Generator | None, idx: Tensor | None, accumulate: bool
    ) -> tuple[LocalPosterior, list[Tensor | None] | None, Tensor | None]:
        """(local, summed inner decoder grads or None, last inner loss (0-d) or None)."""
        if torch.is_inference_mode_enabled():
            raise RuntimeError(
                f"{type(self).__name__} fits its local posteriors by gradient steps, which "
                "torch.inference_mode forbids: build the Trainer with inference_mode=False "
                "(latent_ebm.core.cli does) or call outside torch.inference_mode()"
            )
        check_int("steps", steps, low=0)
        f = self.fast
        init = self.init_local(x, idx=idx, generator=generator)
        mu = init.mu.detach().requires_grad_(True)
        logvar = init.logvar.detach().requires_grad_(True)
        eps = init.eps.detach()
        params = list(self.global_parameters())
        acc: list[Tensor | None] | None = [None] * len(params) if accumulate else None
        opt = torch.optim.AdamW([mu, logvar], lr=f.lr, betas=f.betas, eps=1e-8, weight_decay=f.weight_decay)
        was_training, last = self.training, None
        if f.eval_mode:
            self.train(False)
        try:
            with torch.enable_grad(), _frozen([] if accumulate else params):
                for t in range(steps):
                    for group in opt.param_groups:
                        group["lr"] = f.lr * warmup_cosine(t, max_steps=steps, min_ratio=f.final_ratio)
                    nll, kl = self.elbo_terms(x, LocalPosterior(mu, logvar, eps))
                    loss = (nll + kl).sum()  # -sum_b ELBO_b: examples independent of each other
                    wrt = [mu, logvar, *params] if accumulate else [mu, logvar]
                    grads = torch.autograd.grad(loss, wrt, allow_unused=True)
                    mu.grad, logvar.grad = grads[0], grads[1]
                    if acc is not None:
                        acc = [a if g is None else (g if a is None else a + g) for a, g in zip(acc, grads[2:])]
                    opt.step()
                    last = loss.detach()
        finally:
            self.train(was_training)
        return LocalPosterior(mu.detach(), logvar.detach(), eps), acc, last

    # ---- training and evaluation -----------------------------------------------------------------------
    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, idx = self.split_batch(batch)
        if idx is None and self.init_noise == "example":
            raise ValueError("init_noise='example' needs example indices: give batches as (x, index)")
        local, acc, last = self._fit_local(x, self.fast.steps, generator=None, idx=idx,
                                           accumulate=self.fast.accumulate_grads)
        self.iterations += 1
        z = local.z.detach()  # (B, *latent_shape)
        loss = self.slow_loss(x, z)
        logs = {"train/slow_loss": loss.detach(), "train/kl": gaussian_kl(local.mu, local.logvar).mean()}
        if last is not None:
            logs["train/inner_loss"] = last / self.batch_size_of(x)
        self.log_dict(logs, on_step=True, on_epoch=False, batch_size=self.batch_size_of(x))
        if acc is not None:  # surrogate whose gradient is the accumulated inner gradient
            params = list(self.global_parameters())
            loss = loss + sum((p * g).sum() for p, g in zip(params, acc) if g is not None)
        return loss

    def eval_step(self, batch: Any, stage: str) -> dict[str, Tensor]:
        """Fit the local posterior with ``fast.eval_steps`` and log mean nll, kl, elbo."""
        x, idx = self.split_batch(batch)
        local = self.fit_local(x, self.fast.eval_steps_or_steps, idx=idx)
        with torch.no_grad():
            nll, kl = self.elbo_terms(x, local)
        out = {f"{stage}/nll": nll.mean(), f"{stage}/kl": kl.mean(), f"{stage}/elbo": -(nll + kl).mean()}
        self.log_dict(out, batch_size=self.batch_size_of(x), sync_dist=True)
        return out

    def validation_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        return self.eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        return self.eval_step(batch, "test")

    def optimizer_groups(self) -> list[tuple[Iterable[nn.Parameter], OptimConfig]]:
        return [(self.global_parameters(), self.optim)]

    def configure_gradient_clipping(self, optimizer: Any, gradient_clip_val: Any = None,
                                    gradient_clip_algorithm: Any = None) -> None:
        """Clip at ``optim.grad_clip`` (a Trainer's ``gradient_clip_val`` takes precedence)."""
        clip = self.optim.grad_clip if gradient_clip_val is None else gradient_clip_val
        if clip:
            self.clip_gradients(optimizer, gradient_clip_val=clip,
                                gradient_clip_algorithm=gradient_clip_algorithm or "norm")
