"""Latent Thought Model (Kong et al., ICML 2025; arXiv 2502.01567) and its same-size GPT baseline.

LTM: latent thought vectors z (B, N_z, d), N_z / L per decoder layer, prior N(0, I); decoder
p_beta(x | z) a Llama-style causal Transformer with sliding-window self-attention and, in every
layer, cross-attention to that layer's latents (RoPE on latent keys). Training is dual-rate
variational Bayes (sec. 2-3): fast learning fits q(z|x) = N(mu, sigma^2) per sequence
(the core's :class:`~latent_ebm.core.lightning.DualRateModule`), slow learning takes one AdamW step on the decoder with
z = mu + sigma * eps detached. Evaluation: ELBO-PPL exp((NLL + KL) / N) with the inner loop on the
evaluated sequence (paper's metric, an upper bound), and prefix-conditional PPL (z from the prefix
only, continuation scored) for an honest comparison with the GPT baseline.
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
from torch import Tensor

from latent_ebm.core.lightning import DualRateModule, LocalPosterior

from ._base import LanguageModelMixin, _check

__all__ = ["GPTModule", "LTMModule"]


class LTMModule(LanguageModelMixin, DualRateModule):
    """Latent Thought Model with dual-rate training.

    Args (model): vocab_size, d_model, n_layers, n_heads, seq_len (max context), window (sliding
        self-attention window; paper 256), n_latents (N_z, total over layers).
    Args (fast learning): inner_steps (T_fast in training), eval_inner_steps (T_fast in
        validation/test/predict; None: same as training), inner_lr (eta_fast, paper 0.3),
        inner_lr_final_ratio (cosine end, paper 0.1), inner_weight_decay (first-party: torch's
        AdamW default 0.01), inner_betas, inner_eval_mode (decoder in eval mode in the loop),
        init_noise (core: ``rank`` or per-``example`` noise streams), init_mu_std, init_logvar, init_logvar_std, accumulate_inner_grads (True reproduces the first-party code, where every inner backward
        also adds decoder gradients that the slow step then uses; False: the slow gradient is the
        paper's single ELBO gradient at the fitted z).
    Args (slow learning): lr, min_lr_ratio, warmup_steps, max_steps, weight_decay, betas, grad_clip.
    Args (evaluation / generation): prefix_fraction, max_new_tokens, temperature (0: greedy),
        top_k, top_p, z_source (``posterior``: z inferred from the prompt; ``prior``: z ~ N(0, I)).
    Args (other): seed of the core's per-rank sampler generator (None: the global seed).
    """

    def __init__(
        self,
        vocab_size: int = 65,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        seq_len: int = 64,
        window: int | None = 8,
        n_latents: int = 4,
        inner_steps: int = 8,
        eval_inner_steps: int | None = None,
        inner_lr: float = 0.3,
        inner_lr_final_ratio: float = 0.1,
        inner_weight_decay: float = 0.01,
        inner_betas: tuple[float, float] = (0.9, 0.999),
        inner_eval_mode: bool = True,
        init_noise: Literal["rank", "example"] = "rank",
        init_mu_std: float = 0.01,
        init_logvar: float = -5.0,
        init_logvar_std: float = 0.1,
        accumulate_inner_grads: bool = False,
        lr: float = 4e-4,
        min_lr_ratio: float = 0.1,
        warmup_steps: int = 1000,
        max_steps: int = 60000,
        weight_decay: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.95),
        grad_clip: float | None = 1.0,
        prefix_fraction: float = 0.5,
        max_new_tokens: int = 32,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        z_source: Literal["posterior", "prior"] = "posterior",
        seed: int | None = None,
    ) -> None:
        _check("n_latents", n_latents, isinstance(n_latents, int) and n_latents >= 1 and n_latents % n_layers == 0,
               f"it must be a positive multiple of n_layers={n_layers} (one group of latent thoughts per layer)")
        _check("inner_steps", inner_steps, isinstance(inner_steps, int) and inner_steps >= 0, "it must be an int >= 0")
        _check("eval_inner_steps", eval_inner_steps, eval_inner_steps is None or (isinstance(eval_inner_steps, int) and eval_inner_steps >= 0),
               "it must be None or an int >= 0")
        _check("inner_lr", inner_lr, inner_lr > 0, "it must be > 0")
        _check("inner_lr_final_ratio", inner_lr_final_ratio, 0 < inner_lr_final_ratio <= 1, "it must be in (0, 1]")
        _check("init_mu_std", init_mu_std, init_mu_std >= 0, "it must be >= 0")
        _check("z_source", z_source, z_source in ("posterior", "prior"), "choose 'posterior' or 'prior'")
        super().__init__(
            inner_steps=inner_steps, eval_inner_steps=eval_inner_steps, inner_lr=inner_lr,
            inner_lr_final_ratio=inner_lr_final_ratio, inner_weight_decay=inner_weight_decay, inner_betas=inner_betas,
            inner_eval_mode=inner_eval_mode, init_noise=init_noise, init_mu_std=init_mu_std,
            init_logvar=init_logvar, init_logvar_std=init_logvar_std, accumulate_inner_grads=accumulate_inner_grads,
            lr=lr, weight_decay=weight_decay, seed=seed,
        )
        self._build_decoder(
            vocab_size=vocab_size, d_model=d_model, n_layers=n_layers, n_heads=n_heads, seq_len=seq_len, window=window,
            cross_attention=True, n_latents=n_latents, lr=lr, min_lr_ratio=min_lr_ratio, warmup_steps=warmup_steps,
            max_steps=max_steps, weight_decay=weight_decay, grad_clip=grad_clip, prefix_fraction=prefix_fraction,
        )
        # hparams: DualRateModule.__init__ saved this constructor's arguments with its own
        self.latent_shape = (n_latents, d_model)

    # ---- fast learning -----------------------------------------------------------------------

    @property
    def eval_steps(self) -> int:
        s = self.hparams.eval_inner_steps
        return self.hparams.inner_steps if s is None else s

    def nll(self, x: Tensor, z: Tensor) -> Tensor:
        """-log p(x | z) summed over tokens, (B,) (the inner loop's data term)."""
        return self.token_nll(x, z).sum(1)

    def slow_loss(self, x: Tensor, z: Tensor) -> Tensor:
        """Token-mean cross-entropy at the fitted z (first-party slow step)."""
        return self.token_nll(x, z).mean()

    # ---- evaluation --------------------------------------------------------------------------

    def _evaluate(self, x: Tensor, prefix: str) -> None:
        n_tok = x.shape[1] - 1
        local: LocalPosterior = self.fit_local(x, self.eval_steps)
        with torch.no_grad():
            nll, kl = self.elbo_terms(x, local)
        bound = nll + kl  # (B,) -log p(x) <= bound
        self.log_dict({
            f"{prefix}/elbo_ppl": (bound / n_tok).exp().mean(),  # the paper's metric: mean per-sequence
            f"{prefix}/elbo_ppl_tokens": (bound.sum() / (n_tok * x.shape[0])).exp(),
            f"{prefix}/nll": nll.mean() / n_tok, f"{prefix}/kl": kl.mean(),
        }, on_epoch=True, batch_size=x.shape[0])
        p = self.prefix_len(x.shape[1])
        prefix_local = self.fit_local(x[:, :p], self.eval_steps)  # z sees only the prefix
        with torch.no_grad():
            cont = self.token_nll(x, prefix_local.mu)[:, p - 1 :]  # targets x[:, p:]
        self.val_nll_cont.update(cont)

    def validation_step(self, x: Tensor, batch_idx: int) -> None:
        self._evaluate(x, "val")

    def test_step(self, x: Tensor, batch_idx: int) -> None:
        self._evaluate(x, "test")

    # ---- generation --------------------------------------------------------------------------

    def infer_z(self, prompt: Tensor, steps: int | None = None) -> Tensor:
        """z (B, N_z, d) for generation: posterior mean from the prompt, or a prior draw."""
        if self.hparams.z_source == "prior" or prompt.shape[1] < 2:
            return torch.randn(prompt.shape[0], *self.latent_shape, device=prompt.device)
        return self.fit_local(prompt, self.eval_steps if steps is None else steps).mu

    def predict_step(self, prompt: Tensor, batch_idx: int) -> Tensor:
        hp = self.hparams
        z = self.infer_z(prompt)
        n = min(hp.max_new_tokens, hp.seq_len - prompt.shape[1])
        self.decoder.eval()
        return self.decoder.generate(prompt, z, n, temperature=hp.temperature, top_k=hp.top_k, top_p=hp.top_p)


class GPTModule(LanguageModelMixin, L.LightningModule):
    """The same-size autoregressive baseline: the same decoder without cross-attention.

    ``window=None`` gives full causal attention (the issue's GPT baseline); setting it to LTM's
    window gives the windowed GPT used to show what z adds. Same slow-rate optimiser as LTM.
    """

    def __init__(
        self,
        vocab_size: int = 65,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        seq_len: int = 64,
        window: int | None = None,
        lr: float = 4e-4,
        min_lr_ratio: float = 0.1,
        warmup_steps: int = 1000,
        max_steps: int = 60000,
        weight_decay: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.95),
        grad_clip: float | None = 1.0,
        prefix_fraction: float = 0.5,
        max_new_tokens: int = 32,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self._build_decoder(
            vocab_size=vocab_size, d_model=d_model, n_layers=n_layers, n_heads=n_heads, seq_len=seq_len, window=window,
            cross_attention=False, n_latents=None, lr=lr, min_lr_ratio=min_lr_ratio, warmup_steps=warmup_steps,
            max_steps=max_steps, weight_decay=weight_decay, grad_clip=grad_clip, prefix_fraction=prefix_fraction,
        )

    def training_step(self, x: Tensor, batch_idx: int) -> Tensor:
        loss = self.token_nll(x, None).mean()
        self.log_dict({"train/loss": loss.detach(), "train/ppl": loss.detach().exp()}, on_step=True, on_epoch=False, prog_bar=True)
        return loss

    def _evaluate(self, x: Tensor, prefix: str) -> None:
        with torch.no_grad():
            nll = self.token_nll(x, None)  # (B, T-1)
        self.log_dict({f"{prefix}/ppl": nll.mean().exp(), f"{prefix}/nll": nll.mean()}, on_epoch=True, batch_size=x.shape[0])
        self.val_nll_cont.update(nll[:, self.prefix_len(x.shape[1]) - 1 :])

    def validation_step(self, x: Tensor, batch_idx: int) -> None:
        self._evaluate(x, "val")

    def test_step(self, x: Tensor, batch_idx: int) -> None:
        self._evaluate(x, "test")

    def predict_step(self, prompt: Tensor, batch_idx: int) -> Tensor:
        hp = self.hparams
        self.decoder.eval()
        n = min(hp.max_new_tokens, hp.seq_len - prompt.shape[1])
        return self.decoder.generate(prompt, None, n, temperature=hp.temperature, top_k=hp.top_k, top_p=hp.top_p)
