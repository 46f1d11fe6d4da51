"""What LTM and its GPT baseline share: the decoder, slow-rate optimiser and schedule, checks, prefix PPL."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MeanMetric

from latent_ebm.core.nn import LatentConditionedDecoder

__all__ = ["LanguageModelMixin", "sequence_nll"]


def sequence_nll(logits: Tensor, targets: Tensor) -> Tensor:
    """logits (B, T, V), targets (B, T) -> per-token NLL (B, T), computed in float32."""
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none").view_as(targets)


def _check(name: str, value, ok: bool, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} is not allowed; {allowed}")


class LanguageModelMixin:
    """Decoder + slow learning (Kong et al. 2025, sec. 3 / first-party ``train_ltm.py``), mixed into
    a LightningModule (LTM: the core's ``DualRateModule``; GPT: ``LightningModule``).

    AdamW (betas ``betas``, weight decay on >= 2-d tensors only), linear warmup then cosine to
    ``lr * min_lr_ratio`` at ``max_steps``, global grad-norm clip ``grad_clip`` (applied through
    ``configure_gradient_clipping``, so the Trainer needs no clipping flag).
    """

    def _build_decoder(
        self, *, vocab_size: int, d_model: int, n_layers: int, n_heads: int, seq_len: int, window: int | None,
        cross_attention: bool, n_latents: int | None, lr: float, min_lr_ratio: float, warmup_steps: int,
        max_steps: int, weight_decay: float, grad_clip: float | None, prefix_fraction: float,
    ) -> None:
        _check("window", window, window is None or (isinstance(window, int) and 1 <= window <= seq_len),
               f"it must be None or an int in [1, seq_len={seq_len}]")
        if n_latents is not None:
            _check("n_latents", n_latents, isinstance(n_latents, int) and n_latents >= 1 and n_latents % n_layers == 0,
                   f"it must be a positive multiple of n_layers={n_layers} (one group of latent thoughts per layer)")
        _check("lr", lr, lr > 0, "it must be > 0")
        _check("min_lr_ratio", min_lr_ratio, 0 <= min_lr_ratio <= 1, "it must be in [0, 1]")
        _check("warmup_steps", warmup_steps, warmup_steps >= 0, "it must be >= 0")
        _check("max_steps", max_steps, max_steps >= 1, "it must be >= 1")
        _check("weight_decay", weight_decay, weight_decay >= 0, "it must be >= 0")
        _check("grad_clip", grad_clip, grad_clip is None or grad_clip > 0, "it must be None or > 0")
        _check("prefix_fraction", prefix_fraction, 0 < prefix_fraction < 1, "it must be in (0, 1)")
        self.decoder = LatentConditionedDecoder(
            vocab_size, d_model, n_layers, n_heads, seq_len, cross_attention=cross_attention,
            latent_groups="per_layer", n_latents=n_latents if cross_attention else None, window=window, style="llama",
        )
        self.val_nll_cont = MeanMetric()  # per-token NLL of the continuation (prefix-conditional PPL)

    # ---- slow rate ---------------------------------------------------------------------------

    def configure_optimizers(self):
        hp = self.hparams
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": hp.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        opt = torch.optim.AdamW(groups, lr=hp.lr, betas=tuple(hp.betas), fused=None)

        def factor(step: int) -> float:  # warmup + cosine (first-party get_lr)
            if step < hp.warmup_steps:
                return (step + 1) / (hp.warmup_steps + 1)
            frac = min(1.0, (step - hp.warmup_steps) / max(1, hp.max_steps - hp.warmup_steps))
            return hp.min_lr_ratio + 0.5 * (1 - hp.min_lr_ratio) * (1 + math.cos(math.pi * frac))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        clip = self.hparams.grad_clip if gradient_clip_val is None else gradient_clip_val
        if clip:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm=gradient_clip_algorithm or "norm")

    # ---- shared pieces -------------------------------------------------------------------------

    def token_nll(self, x: Tensor, z: Tensor | None) -> Tensor:
        """x (B, T) with x[:, 0] = BOS -> per-token NLL of x[:, 1:] given z: (B, T-1)."""
        return sequence_nll(self.decoder(x[:, :-1], z), x[:, 1:])

    def prefix_len(self, t: int) -> int:
        """Number of leading tokens (BOS included) the prefix-conditional PPL conditions on."""
        return max(2, int(round(self.hparams.prefix_fraction * t)))

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if dm is not None and getattr(dm, "vocab_size", 0) > self.hparams.vocab_size:
            raise ValueError(f"vocab_size={self.hparams.vocab_size} is not allowed with this data; it must be >= the data's {dm.vocab_size}")
        if dm is not None and getattr(dm.hparams, "seq_len", 0) > self.hparams.seq_len:
            raise ValueError(f"seq_len={self.hparams.seq_len} is not allowed; it must be >= the data's seq_len={dm.hparams.seq_len}")

    def on_validation_epoch_start(self) -> None:
        self.val_nll_cont.reset()

    def on_validation_epoch_end(self) -> None:
        self.log("val/prefix_ppl", self.val_nll_cont.compute().exp())

    on_test_epoch_start = on_validation_epoch_start

    def on_test_epoch_end(self) -> None:
        self.log("test/prefix_ppl", self.val_nll_cont.compute().exp())
