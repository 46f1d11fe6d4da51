"""What LTM and its GPT baseline share: the decoder, its settings' checks, the token NLL and the
prefix-conditional PPL. (The slow optimiser, its schedule and clipping are the core's:
``OptimConfig`` built by ``latent_ebm.core.lightning.build_optimizer``.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MeanMetric

from latent_ebm.core.checks import check_int, check_real, require
from latent_ebm.core.nn import LatentConditionedDecoder

__all__ = ["LanguageModelMixin", "sequence_nll"]


def sequence_nll(logits: Tensor, targets: Tensor) -> Tensor:
    """logits (B, T, V), targets (B, T) -> per-token NLL (B, T), computed in float32.

    -log p_beta(x_n | z, x_<n) of each token: one factor of the autoregressive likelihood
    p_beta(x | z) = prod_n p_beta(x_n | z, x_{n-k:n-1}) (Kong et al. 2025; its equation number could
    not be read, see the README's equation table)."""
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none").view_as(targets)


class LanguageModelMixin:
    """The decoder p_beta(x | z) and the evaluation pieces LTM and GPT share, mixed into a
    LightningModule (LTM: the core's ``DualRateModule``; GPT: ``SeededModule``)."""

    def _build_decoder(
        self, *, vocab_size: int, d_model: int, n_layers: int, n_heads: int, seq_len: int, window: int | None,
        cross_attention: bool, n_latents: int | None, prefix_fraction: float, max_new_tokens: int,
        temperature: float, top_k: int | None, top_p: float | None, latent_dim: int | None = None,
    ) -> None:
        """Check the model / evaluation / generation settings and build the Llama-style decoder
        (sliding-window self-attention, and with ``cross_attention`` one group of
        n_latents / n_layers latent thought vectors per layer, each of width ``latent_dim``,
        d_model when None)."""
        check_int("seq_len", seq_len, low=2)
        check_int("window", window, low=1, high=seq_len, allow_none=True)
        check_int("latent_dim", latent_dim, low=1, allow_none=True)
        if n_latents is not None:
            require("n_latents", n_latents, isinstance(n_latents, int) and not isinstance(n_latents, bool)
                    and n_latents >= 1 and isinstance(n_layers, int) and n_latents % n_layers == 0,
                    f"it must be a positive multiple of n_layers={n_layers} (one group of latent thoughts per layer)")
        check_real("prefix_fraction", prefix_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
        check_int("max_new_tokens", max_new_tokens, low=0)
        check_real("temperature", temperature, low=0.0)
        check_int("top_k", top_k, low=1, allow_none=True)
        check_real("top_p", top_p, low=0.0, high=1.0, low_open=True, allow_none=True)
        # vocab_size, d_model, n_layers, n_heads (and d_model % n_heads) are checked by the decoder
        self.decoder = LatentConditionedDecoder(
            vocab_size, d_model, n_layers, n_heads, seq_len, cross_attention=cross_attention,
            latent_groups="per_layer", n_latents=n_latents if cross_attention else None, window=window, style="llama",
            d_latent=latent_dim,
        )
        self.val_nll_cont = MeanMetric()  # per-token NLL of the continuation (prefix-conditional PPL)

    def token_nll(self, x: Tensor, z: Tensor | None) -> Tensor:
        """x (B, T) -> per-token NLL of x[:, 1:] given z: (B, T-1). x[:, 0] is BOS in ``block-bos``
        blocks; first-party windows and zero-shot chunks start wherever the stride puts them."""
        return sequence_nll(self.decoder(x[:, :-1], z), x[:, 1:])

    def prefix_len(self, t: int) -> int:
        """Number of leading tokens (BOS included) the prefix-conditional PPL conditions on."""
        return max(2, int(round(self.hparams.prefix_fraction * t)))

    def generation_length(self, prompt: Tensor) -> int:
        """New tokens to generate after ``prompt`` (B, T0): max_new_tokens, within the context."""
        return min(self.hparams.max_new_tokens, self.hparams.seq_len - prompt.shape[1])

    def generation_note(self) -> str:
        """How ``predict`` generated (the header of ``samples.txt``)."""
        hp = self.hparams
        how = "greedy" if hp.temperature == 0 else f"temperature {hp.temperature}, top_k {hp.top_k}, top_p {hp.top_p}"
        return f"{type(self).__name__}, {how}"

    def write_predictions(self, predictions: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        """``samples.txt``: every sample ``predict`` made, its prompt and its continuation decoded by
        the data module (GPT-2 BPE text, or ``t<id>`` symbols on latent-topic; token ids without
        a data module), one block per sample (the core's ``PredictionWriter`` calls this)."""
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        decode = getattr(dm, "decode", None) or (lambda ids: " ".join(str(int(i)) for i in ids))
        rows = [(p.tolist(), c.tolist()) for out in predictions for p, c in zip(out["prompt"], out["continuation"])]
        lines = [f"# {len(rows)} samples: the prompt, then the continuation generated by {self.generation_note()}"]
        for i, (prompt, cont) in enumerate(rows, 1):
            lines += ["", f"=== sample {i} ===", f"[prompt] {decode(prompt) or '(none: generated from BOS)'}",
                      f"[continuation] {decode(cont)}"]
        path = out_dir / "samples.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return [path]

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        vocab, seq = self.hparams.vocab_size, self.hparams.seq_len
        if dm is not None and getattr(dm, "vocab_size", 0) > vocab:
            require("vocab_size", vocab, False, f"it must be >= the data's vocab_size={dm.vocab_size}")
        if dm is not None and getattr(dm.hparams, "seq_len", 0) > seq:
            require("seq_len", seq, False, f"it must be >= the data's seq_len={dm.hparams.seq_len}")

    def on_validation_epoch_start(self) -> None:
        self.val_nll_cont.reset()

    def on_validation_epoch_end(self) -> None:
        self.log("val/prefix_ppl", self.val_nll_cont.compute().exp())

    on_test_epoch_start = on_validation_epoch_start

    def on_test_epoch_end(self) -> None:
        self.log("test/prefix_ppl", self.val_nll_cont.compute().exp())

