"""Transformer pieces: RMSNorm, SwiGLU and GELU MLPs, and the pre-norm decoder block.

Two styles share one block:
- ``"llama"`` (LTM, Kong et al. 2025): RMSNorm (eps 1e-5), SwiGLU FFN with hidden width
  2/3 * 4d rounded up to a multiple of 32, no biases.
- ``"gpt"`` (LPT's minGPT decoder): LayerNorm, GELU (tanh form) MLP of width 4d, biases.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import AttentionPlan, CrossAttention, KVCache, Rope, SelfAttention

__all__ = ["DecoderBlock", "GeluMLP", "RMSNorm", "SwiGLU", "swiglu_hidden"]

Style = Literal["llama", "gpt"]


class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + eps) * weight, computed in float32 (Zhang & Sennrich 2019, eq. 4)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()
        return (xf * torch.rsqrt(xf.square().mean(-1, keepdim=True) + self.eps)).type_as(
            x
        ) * self.weight


def swiglu_hidden(d_model: int, multiple_of: int = 32) -> int:
    """LLaMA's SwiGLU width: int(2/3 * 4d) rounded up to a multiple of ``multiple_of``."""
    hidden = int(2 * 4 * d_model / 3)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


class SwiGLU(nn.Module):
    """out(silu(gate(x)) * up(x)) (Shazeer 2020, eq. 6), no biases."""

    def __init__(self, d_model: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.gate = nn.Linear(d_model, hidden, bias=False)
        self.up = nn.Linear(d_model, hidden, bias=False)
        self.out = nn.Linear(hidden, d_model, bias=False)  # residual output projection
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.out(F.silu(self.gate(x)) * self.up(x)))


class GeluMLP(nn.Module):
    """out(gelu_tanh(fc(x))), width 4d, as in GPT-2 / minGPT."""

    def __init__(self, d_model: int, dropout: float) -> None:
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.out = nn.Linear(4 * d_model, d_model)  # residual output projection
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.out(F.gelu(self.fc(x), approximate="tanh")))


def make_norm(style: Style, dim: int) -> nn.Module:
    return RMSNorm(dim, eps=1e-5) if style == "llama" else nn.LayerNorm(dim)


class DecoderBlock(nn.Module):
    """x += SelfAttn(norm(x)); x += CrossAttn(norm(x), z_l) (if any); x += FFN(norm(x))."""

    def __init__(
        self, d_model: int, n_heads: int, *, style: Style, cross_attention: bool, dropout: float
    ) -> None:
        super().__init__()
        bias = style == "gpt"
        self.attn_norm = make_norm(style, d_model)
        self.attn = SelfAttention(d_model, n_heads, bias=bias, dropout=dropout)
        self.cross_norm = make_norm(style, d_model) if cross_attention else None
        self.cross = (
            CrossAttention(d_model, n_heads, bias=bias, dropout=dropout)
            if cross_attention
            else None
        )
        self.ffn_norm = make_norm(style, d_model)
        self.ffn = (
            SwiGLU(d_model, swiglu_hidden(d_model), dropout)
            if style == "llama"
            else GeluMLP(d_model, dropout)
        )

    def forward(
        self,
        x: Tensor,
        plan: AttentionPlan,
        *,
        rope: Rope | None = None,
        latent_kv: tuple[Tensor, Tensor] | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> Tensor:
        """x: (B, T, d); latent_kv: this layer's latent keys/values (B, H, N, hd) -> (B, T, d)."""
        x = x + self.attn(self.attn_norm(x), plan, rope=rope, cache=cache, layer=layer)
        if self.cross is not None:
            x = x + self.cross(self.cross_norm(x), latent_kv, rope=rope)
        return x + self.ffn(self.ffn_norm(x))
