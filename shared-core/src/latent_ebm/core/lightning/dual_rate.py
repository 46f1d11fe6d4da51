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

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from ._base import NoiseMode, SeededModule, check_positive

__all__ = ["DualRateModule", "LocalPosterior"]

_MU_STREAM, _LOGVAR_STREAM, _EPS_STREAM = 11, 12, 13


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


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over all but the batch dim: (B, ...) -> (B,)."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=1)


def cosine_lr(step: int, steps: int, lr: float, final_ratio: float) -> float:
    """lr * ratio + (lr - lr * ratio) * (1 + cos(pi * step / steps)) / 2 (first-party schedule)."""
    final = lr * final_ratio
    return final + 0.5 * (1.0 + math.cos(math.pi * step / max(steps, 1))) * (lr - final)


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

    Subclasses provide ``nll(x, z) -> (B,)`` (negative log-likelihood summed over tokens),
    ``latent_shape`` (tuple, without the batch dim) and may override ``slow_loss`` (default
    ``nll(x, z).mean()``; LTM uses the token-mean cross-entropy), ``global_parameters`` and
    ``configure_optimizers`` (default AdamW(lr, weight_decay) on ``global_parameters()``).

    The inner loop takes gradients w.r.t. (mu, logvar) only (``torch.autograd.grad``, decoder
    frozen), so nothing is synchronised across DDP ranks for it and the decoder receives only
    the slow gradient. ``accumulate_inner_grads=True`` reproduces the first-party code instead:
    its inner ``loss.backward()`` also accumulates sum_t grad_beta(sum_b nll + kl) into the
    decoder, which the slow step then adds to its own gradient. Here those gradients are
    collected with ``autograd.grad`` and added through a surrogate term sum(p * g) in the slow
    loss, so the one backward (and its DDP all-reduce, which averages them across ranks) carries
    them.

    Args:
        inner_steps, eval_inner_steps: T_fast in training and at validation/test (None: same).
        inner_lr, inner_lr_final_ratio: eta_fast and the cosine floor ratio (LTM: 0.3, 0.1).
        inner_betas, inner_weight_decay: the inner AdamW's settings.
        init_mu_std, init_logvar, init_logvar_std: mu ~ N(0, std²), logvar = init + std N(0, 1).
        accumulate_inner_grads: see above.
        inner_eval_mode: put the module in eval mode (no dropout) during the inner loop.
        lr, weight_decay: the default slow optimiser.
        init_noise: ``"rank"`` or ``"example"`` (init and eps keyed by example index).
        seed: base seed of the per-rank generator (None: the global seed).
    """

    def __init__(
        self,
        *,
        inner_steps: int = 16,
        eval_inner_steps: int | None = None,
        inner_lr: float = 0.3,
        inner_lr_final_ratio: float = 0.1,
        inner_betas: tuple[float, float] = (0.9, 0.999),
        inner_weight_decay: float = 0.01,
        init_mu_std: float = 0.01,
        init_logvar: float = -5.0,
        init_logvar_std: float = 0.1,
        accumulate_inner_grads: bool = False,
        inner_eval_mode: bool = True,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        init_noise: NoiseMode = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.save_base_hyperparameters(dict(locals()))
        for name, v in (("inner_steps", inner_steps), ("eval_inner_steps", eval_inner_steps)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise ValueError(f"{name}={v!r} is not allowed; it must be an int >= 0")
        check_positive(inner_lr=inner_lr, lr=lr)
        check_positive(True, inner_lr_final_ratio=inner_lr_final_ratio, init_mu_std=init_mu_std,
                       init_logvar_std=init_logvar_std, inner_weight_decay=inner_weight_decay,
                       weight_decay=weight_decay)
        if not math.isfinite(init_logvar):
            raise ValueError(f"init_logvar={init_logvar!r} is not allowed; it must be finite")
        if init_noise not in ("rank", "example"):
            raise ValueError(f"init_noise={init_noise!r} is not allowed; use 'rank' or 'example'")
        self._calls = 0  # offset of example-keyed noise; saved in checkpoints

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
        hp = self.hparams
        b, shape = self.batch_size_of(x), tuple(self.latent_shape)
        keyed = hp.init_noise == "example" and idx is not None and generator is None
        kw = {"idx": idx, "offset": self._calls, "mode": "example" if keyed else "rank", "generator": generator}
        mu = hp.init_mu_std * self.standard_normal(shape, b, stream=_MU_STREAM, **kw)
        logvar = hp.init_logvar + hp.init_logvar_std * self.standard_normal(shape, b, stream=_LOGVAR_STREAM, **kw)
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
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps={steps!r} is not allowed; it must be an int >= 0")
        hp = self.hparams
        init = self.init_local(x, idx=idx, generator=generator)
        mu = init.mu.detach().requires_grad_(True)
        logvar = init.logvar.detach().requires_grad_(True)
        eps = init.eps.detach()
        params = list(self.global_parameters())
        acc: list[Tensor | None] | None = [None] * len(params) if accumulate else None
        opt = torch.optim.AdamW([mu, logvar], lr=hp.inner_lr, betas=tuple(hp.inner_betas), eps=1e-8,
                                weight_decay=hp.inner_weight_decay)
        was_training, last = self.training, None
        if hp.inner_eval_mode:
            self.train(False)
        try:
            with torch.enable_grad(), _frozen([] if accumulate else params):
                for t in range(steps):
                    for group in opt.param_groups:
                        group["lr"] = cosine_lr(t, steps, hp.inner_lr, hp.inner_lr_final_ratio)
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
        if idx is None and self.hparams.init_noise == "example":
            raise ValueError("init_noise='example' needs example indices: give batches as (x, index)")
        accumulate = bool(self.hparams.accumulate_inner_grads)
        local, acc, last = self._fit_local(x, self.hparams.inner_steps, generator=None, idx=idx,
                                           accumulate=accumulate)
        self._calls += 1
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
        """Fit the local posterior with ``eval_inner_steps`` and log mean nll, kl, elbo."""
        x, idx = self.split_batch(batch)
        steps = self.hparams.eval_inner_steps
        steps = self.hparams.inner_steps if steps is None else steps
        local = self.fit_local(x, steps, idx=idx)
        with torch.no_grad():
            nll, kl = self.elbo_terms(x, local)
        out = {f"{stage}/nll": nll.mean(), f"{stage}/kl": kl.mean(), f"{stage}/elbo": -(nll + kl).mean()}
        self.log_dict(out, batch_size=self.batch_size_of(x), sync_dist=True)
        return out

    def validation_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        return self.eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        return self.eval_step(batch, "test")

    def configure_optimizers(self) -> Any:
        return torch.optim.AdamW(self.global_parameters(), lr=self.hparams.lr,
                                 weight_decay=self.hparams.weight_decay)

    # ---- checkpoints -------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["latent_ebm"]["fast_calls"] = self._calls

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self._calls = int(checkpoint.get("latent_ebm", {}).get("fast_calls", 0))
