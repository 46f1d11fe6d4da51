"""Latent Thought Model (Kong et al., ICML 2025; arXiv 2502.01567) and its same-size GPT baseline.

The paper's equations, by content (its body could not be read, so no equation numbers are cited;
the README's equation table lists where each is implemented):
    prior       p(z) = N(0, I), z = (z_1, ..., z_L), N_z / L latent thought vectors per layer
    decoder     p_beta(x | z) = prod_n p_beta(x_n | z, x_{n-k:n-1})  (window k; layer l cross-attends z_l)
    posterior   q(z | x) = N(mu, diag sigma²), (mu, log sigma²) free per sequence, no encoder
    ELBO        L(beta, mu, sigma) = E_q[log p_beta(x | z)] - KL(q(z | x) || p(z))
    fast        T_fast AdamW steps on (mu, log sigma²) maximising L, one eps fixed, lr cosine-decayed
    slow        one optimiser step on beta at z = mu + sigma eps (detached), token-mean cross-entropy
    ELBO-PPL    exp((NLL + KL) / N) >= PPL, the inner loop run on the evaluated sequence
Dual-rate training is the core's :class:`~latent_ebm.core.lightning.DualRateModule`; this module
fills its hooks (``nll``, ``slow_loss``, ``latent_shape``, ``eval_step``). Evaluation adds a
prefix-conditional PPL (z from the prefix only, continuation scored) for an honest comparison with
the GPT baseline.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import torch
from torch import Tensor, nn

from latent_ebm.core.checks import check_choice
from latent_ebm.core.lightning import (
    DualRateModule,
    FastLoop,
    LocalPosterior,
    NoiseMode,
    OptimConfig,
    SeededModule,
)

from ._base import LanguageModelMixin

__all__ = ["FAST", "GPTModule", "LTMModule", "OPTIM"]

# The fast loop of the first-party code (mingluzhao/Latent-Thought-Language-Models, optimizer.py
# ``PosteriorOptimizer``; see shared/papers/ltm.md): eta_fast 0.3 (the blog's value; the code runs
# 0.34), cosine to eta_fast / 10 within the loop, AdamW (0.9, 0.999) with torch's default weight
# decay 0.01 on (mu, log sigma²), mu ~ N(0, 0.01²), log sigma² = -5 + 0.1 N(0, 1), decoder in eval
# mode and frozen. T_fast 8 is a CPU-sized default; the paper's models use 16 and 64 (configs).
FAST = FastLoop(steps=8, eval_steps=None, lr=0.3, final_ratio=0.1, betas=(0.9, 0.999), weight_decay=0.01,
                init_mu_std=0.01, init_logvar=-5.0, init_logvar_std=0.1, accumulate_grads=False, eval_mode=True)

# The slow optimiser of the first-party ``train_ltm.py`` / ``config.py`` (nanoGPT style): AdamW
# (0.9, 0.95), peak lr 4e-4, weight decay 0.1 on >= 2-d tensors only, 1000 warm-up steps, cosine
# to lr / 10, global grad-norm clip 1.0. The cosine ends at the Trainer's max_steps (max_steps=None;
# the paper's configs run 60000).
OPTIM = OptimConfig(lr=4e-4, algorithm="adamw", betas=(0.9, 0.95), weight_decay=0.1, decay="matrices",
                    warmup_steps=1000, schedule="cosine", max_steps=None, min_lr_ratio=0.1, grad_clip=1.0)


class LTMModule(LanguageModelMixin, DualRateModule):
    """Latent Thought Model with dual-rate training.

    Args (model): vocab_size, d_model, n_layers, n_heads, seq_len (max context), window (sliding
        self-attention window k; paper 256), n_latents (N_z, total over layers), latent_dim (the
        width of each latent vector; None: d_model as in the paper; narrower latents are lifted
        to d_model by one linear map, see the core decoder's ``d_latent``).
    Args (evaluation / generation): prefix_fraction (share of a block the prefix PPL conditions
        on), max_new_tokens, temperature (0: greedy), top_k, top_p, z_source (``posterior``: z
        inferred from the prompt; ``prior``: z ~ N(0, I)).
    Args (the core's groups): fast (the fast loop: T_fast ``steps``, ``eval_steps`` at
        validation/test/predict, eta_fast ``lr``, ``accumulate_grads``: True reproduces the
        first-party code, whose inner backward also adds decoder gradients to the slow step),
        optim (the slow optimiser and its schedule and clip), init_noise (``rank`` or per-
        ``example`` noise streams for q's init and eps), seed (the per-rank sampler generator's).
    """

    def __init__(
        self,
        *,
        vocab_size: int = 65,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        seq_len: int = 64,
        window: int | None = 8,
        n_latents: int = 4,
        latent_dim: int | None = None,
        prefix_fraction: float = 0.5,
        max_new_tokens: int = 32,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        z_source: Literal["posterior", "prior"] = "posterior",
        fast: FastLoop = FAST,
        optim: OptimConfig = OPTIM,
        init_noise: NoiseMode = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__(fast=fast, optim=optim, init_noise=init_noise, seed=seed)
        self.save_hyperparameters()
        check_choice("z_source", z_source, ("posterior", "prior"))
        self._build_decoder(
            vocab_size=vocab_size, d_model=d_model, n_layers=n_layers, n_heads=n_heads, seq_len=seq_len, window=window,
            cross_attention=True, n_latents=n_latents, prefix_fraction=prefix_fraction, max_new_tokens=max_new_tokens,
            temperature=temperature, top_k=top_k, top_p=top_p, latent_dim=latent_dim,
        )
        # z: N_z vectors of width latent_dim (d_model by default), N_z / L per layer
        self.latent_shape = (n_latents, d_model if latent_dim is None else latent_dim)

    # ---- the base's hooks ------------------------------------------------------------------------

    def nll(self, x: Tensor, z: Tensor) -> Tensor:
        """-log p_beta(x | z) summed over tokens, (B,): the data term of the ELBO that the fast
        loop maximises (with the core's closed-form KL(q || N(0, I)))."""
        return self.token_nll(x, z).sum(1)

    def slow_loss(self, x: Tensor, z: Tensor) -> Tensor:
        """The slow step's loss: token-mean cross-entropy -log p_beta(x | z) / N at the fitted
        z = mu + sigma eps (detached), as in the first-party slow step."""
        return self.token_nll(x, z).mean()

    def eval_step(self, batch: Any, stage: str) -> dict[str, Tensor]:
        """Fit q on each evaluated block (``fast.eval_steps``) and log the ELBO-PPL
        exp((NLL + KL) / N) >= PPL (the paper's metric, mean over blocks), the token-level bound,
        NLL and KL; then fit q on the prefix only and score the continuation at z = mu (the
        prefix-conditional PPL, logged at the epoch's end)."""
        x, idx = self.split_batch(batch)
        steps = self.fast.eval_steps_or_steps
        n_tok = x.shape[1] - 1
        local: LocalPosterior = self.fit_local(x, steps, idx=idx)
        with torch.no_grad():
            nll, kl = self.elbo_terms(x, local)
        bound = nll + kl  # (B,) -log p(x) <= bound
        out = {
            f"{stage}/elbo_ppl": (bound / n_tok).exp().mean(),  # the paper's metric: mean per-sequence
            f"{stage}/elbo_ppl_tokens": (bound.sum() / (n_tok * x.shape[0])).exp(),
            f"{stage}/nll": nll.mean() / n_tok, f"{stage}/kl": kl.mean(),
        }
        self.log_dict(out, on_epoch=True, batch_size=x.shape[0])
        p = self.prefix_len(x.shape[1])
        prefix_local = self.fit_local(x[:, :p], steps, idx=idx)  # z sees only the prefix
        with torch.no_grad():
            cont = self.token_nll(x, prefix_local.mu)[:, p - 1 :]  # targets x[:, p:]
        self.val_nll_cont.update(cont)
        return out

    # ---- generation --------------------------------------------------------------------------

    def infer_z(self, prompt: Tensor, steps: int | None = None) -> Tensor:
        """z (B, N_z, d) for generation: the posterior mean mu fitted on the prompt (``steps``,
        default ``fast.eval_steps``), or a prior draw z ~ N(0, I)."""
        if self.hparams.z_source == "prior" or prompt.shape[1] < 2:
            return torch.randn(prompt.shape[0], *self.latent_shape, device=prompt.device)
        return self.fit_local(prompt, self.fast.eval_steps_or_steps if steps is None else steps).mu

    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """Prompt {"x": (B, T0)} -> {"prompt": (B, T0), "continuation": (B, n)}: n tokens decoded from
        p_beta(x | z) after the prompt, z from :meth:`infer_z` (``samples.txt``: :meth:`write_predictions`)."""
        prompt, _ = self.split_batch(batch)
        hp = self.hparams
        z = self.infer_z(prompt)
        self.decoder.eval()
        out = self.decoder.generate(prompt, z, self.generation_length(prompt), temperature=hp.temperature,
                                    top_k=hp.top_k, top_p=hp.top_p)
        return {"prompt": prompt, "continuation": out[:, prompt.shape[1]:]}

    def generation_note(self) -> str:
        z = ("z ~ p(z), the prior" if self.hparams.z_source == "prior"
             else f"z = mu of q(z | prompt) after {self.fast.eval_steps_or_steps} fast steps (a prior draw "
                  "for a BOS-only prompt)")
        return f"{super().generation_note()}, {z}"


class GPTModule(LanguageModelMixin, SeededModule):
    """The same-size autoregressive baseline: the same decoder without cross-attention, trained
    on the token-mean cross-entropy -log p_beta(x) / N with LTM's slow optimiser (``optim``).

    ``window=None`` gives full causal attention (the issue's GPT baseline); setting it to LTM's
    window gives the windowed GPT used to show what z adds. Not a latent-variable model: a
    LightningModule with its own training step, on the core's ``SeededModule`` only for the
    optimiser and schedule it builds from ``optim`` (``build_optimizer``) and for storing the
    group as plain data in checkpoints; it draws no noise of its own.
    """

    def __init__(
        self,
        *,
        vocab_size: int = 65,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        seq_len: int = 64,
        window: int | None = None,
        prefix_fraction: float = 0.5,
        max_new_tokens: int = 32,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        optim: OptimConfig = OPTIM,
    ) -> None:
        super().__init__()
        self.optim = self.group(OptimConfig, optim, "optim")
        self.save_hyperparameters()
        self._build_decoder(
            vocab_size=vocab_size, d_model=d_model, n_layers=n_layers, n_heads=n_heads, seq_len=seq_len, window=window,
            cross_attention=False, n_latents=None, prefix_fraction=prefix_fraction, max_new_tokens=max_new_tokens,
            temperature=temperature, top_k=top_k, top_p=top_p,
        )

    def optimizer_groups(self) -> list[tuple[Iterable[nn.Parameter], OptimConfig]]:
        return [(self.parameters(), self.optim)]

    def configure_gradient_clipping(self, optimizer: Any, gradient_clip_val: Any = None,
                                    gradient_clip_algorithm: Any = None) -> None:
        """Clip at ``optim.grad_clip`` (a Trainer's ``gradient_clip_val`` takes precedence)."""
        clip = self.optim.grad_clip if gradient_clip_val is None else gradient_clip_val
        if clip:
            self.clip_gradients(optimizer, gradient_clip_val=clip,
                                gradient_clip_algorithm=gradient_clip_algorithm or "norm")

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, _ = self.split_batch(batch)
        loss = self.token_nll(x, None).mean()
        self.iterations += 1
        self.log_dict({"train/loss": loss.detach(), "train/ppl": loss.detach().exp()}, on_step=True, on_epoch=False,
                      prog_bar=True, batch_size=x.shape[0])
        return loss

    def eval_step(self, batch: Any, stage: str) -> dict[str, Tensor]:
        """Exact PPL exp(NLL / N) of each block, and the NLL of the continuation after the prefix."""
        x, _ = self.split_batch(batch)
        with torch.no_grad():
            nll = self.token_nll(x, None)  # (B, T-1)
        out = {f"{stage}/ppl": nll.mean().exp(), f"{stage}/nll": nll.mean()}
        self.log_dict(out, on_epoch=True, batch_size=x.shape[0])
        self.val_nll_cont.update(nll[:, self.prefix_len(x.shape[1]) - 1 :])
        return out

    def validation_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        return self.eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        return self.eval_step(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """Prompt {"x": (B, T0)} -> {"prompt": (B, T0), "continuation": (B, n)}: n tokens decoded from
        p_beta(x) after the prompt."""
        prompt, _ = self.split_batch(batch)
        hp = self.hparams
        self.decoder.eval()
        out = self.decoder.generate(prompt, None, self.generation_length(prompt), temperature=hp.temperature,
                                    top_k=hp.top_k, top_p=hp.top_p)
        return {"prompt": prompt, "continuation": out[:, prompt.shape[1]:]}
