"""Causal (optionally sliding-window) self-attention, latent cross-attention, and the KV cache.

Both run on ``F.scaled_dot_product_attention``. Which keys a query may read is decided once per
forward by :func:`attention_plan` and shared by every layer: full causal attention uses SDPA's
``is_causal`` fast path; a sliding window uses a boolean mask cached per length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .rope import apply_rope

__all__ = ["AttentionPlan", "CrossAttention", "KVCache", "SelfAttention", "attention_plan"]

Rope = tuple[Tensor, Tensor]  # cos, sin: (T, hd // 2)


class KVCache:
    """Keys and values kept between decoding calls.

    ``k``/``v``: (n_layers, B, H, max_seq_len, hd), written at the positions of each call's tokens
    (RoPE already applied). ``latent[i]``: layer i's latent keys/values (B, H, N, hd), computed
    from z on the first call that uses this cache and reused after (z may then be None).
    ``length``: one past the last position written.
    """

    def __init__(
        self,
        n_layers: int,
        batch_size: int,
        n_heads: int,
        head_dim: int,
        max_seq_len: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        shape = (n_layers, batch_size, n_heads, max_seq_len, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.latent: list[tuple[Tensor, Tensor] | None] = [None] * n_layers
        self.length = 0

    @property
    def batch_size(self) -> int:
        return self.k.shape[1]


@dataclass(frozen=True)
class AttentionPlan:
    """Which keys the queries at positions [start, start + T) read.

    Keys are positions [key_start, start + T); ``mask`` (T, K) is True where a query may attend,
    or None with ``is_causal`` (SDPA's causal mask, when T == K) or nothing (every key allowed).
    """

    start: int
    key_start: int
    mask: Tensor | None
    is_causal: bool


_MASKS: dict[tuple[int, int, str], Tensor] = {}


def _band_mask(t: int, window: int, device: torch.device) -> Tensor:
    """(t, t) bool: query i reads key j iff i - window < j <= i. Built once per (t, window, device)."""
    key = (t, window, str(device))
    mask = _MASKS.get(key)
    if mask is None:
        i = torch.arange(t, device=device)[:, None]
        j = torch.arange(t, device=device)[None, :]
        mask = (j <= i) & (j > i - window)
        if len(_MASKS) > 64:  # lengths seen are few in practice; keep the cache bounded anyway
            _MASKS.clear()
        _MASKS[key] = mask
    return mask


def attention_plan(
    start: int, t: int, window: int | None, device: torch.device, cached: bool
) -> AttentionPlan:
    """The keys read by t queries at positions [start, start + t).

    Without a cache the keys are the t tokens themselves (positions relative to ``start``).
    With a cache they are every cached position up to the last query, trimmed to the window:
    a single decoding step then needs no mask at all.
    """
    if not cached or start == 0:
        if window is None or t <= window:
            return AttentionPlan(start, start, None, t > 1)
        return AttentionPlan(start, start, _band_mask(t, window, device), False)
    key_start = 0 if window is None else max(0, start - window + 1)
    if t == 1:
        return AttentionPlan(start, key_start, None, False)
    i = torch.arange(start, start + t, device=device)[:, None]
    j = torch.arange(key_start, start + t, device=device)[None, :]
    mask = j <= i
    if window is not None:
        mask &= j > i - window
    return AttentionPlan(start, key_start, mask, False)


def _heads(x: Tensor, n_heads: int) -> Tensor:
    """(B, T, H*hd) -> (B, H, T, hd)."""
    return x.unflatten(-1, (n_heads, -1)).transpose(1, 2)


class SelfAttention(nn.Module):
    """Multi-head causal self-attention; RoPE on queries and keys when ``rope`` is given."""

    def __init__(self, d_model: int, n_heads: int, *, bias: bool, dropout: float) -> None:
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)  # residual output projection
        self.resid_dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        plan: AttentionPlan,
        *,
        rope: Rope | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> Tensor:
        """x: (B, T, d) at positions [plan.start, plan.start + T) -> (B, T, d)."""
        t = x.shape[1]
        q, k, v = (_heads(a, self.n_heads) for a in self.qkv(x).chunk(3, dim=-1))  # (B, H, T, hd)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if cache is not None:
            end = plan.start + t
            cache.k[layer, :, :, plan.start : end] = k
            cache.v[layer, :, :, plan.start : end] = v
            k = cache.k[layer, :, :, plan.key_start : end]
            v = cache.v[layer, :, :, plan.key_start : end]
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=plan.mask,
            is_causal=plan.is_causal,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.resid_dropout(self.out(y.transpose(1, 2).flatten(2)))


class CrossAttention(nn.Module):
    """Tokens attend to a set of latent vectors, unmasked (LTM's and LPT's cross-attention).

    With RoPE (LTM), queries rotate at their token positions and latent keys at their latent
    positions (:func:`latent_positions`), so scores depend on the offset between the two.
    """

    def __init__(self, d_model: int, n_heads: int, *, bias: bool, dropout: float) -> None:
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.q = nn.Linear(d_model, d_model, bias=bias)
        self.kv = nn.Linear(d_model, 2 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)  # residual output projection
        self.resid_dropout = nn.Dropout(dropout)

    def latent_kv(self, z: Tensor, rope: Rope | None = None) -> tuple[Tensor, Tensor]:
        """z: (B, N, d) -> keys, values (B, H, N, hd); keys rotated by ``rope`` (N rows)."""
        k, v = (_heads(a, self.n_heads) for a in self.kv(z).chunk(2, dim=-1))
        if rope is not None:
            k = apply_rope(k, *rope)
        return k, v

    def forward(self, x: Tensor, kv: tuple[Tensor, Tensor], *, rope: Rope | None = None) -> Tensor:
        """x: (B, T, d); kv from :meth:`latent_kv`; rope: the T query positions -> (B, T, d)."""
        q = _heads(self.q(x), self.n_heads)  # (B, H, T, hd)
        if rope is not None:
            q = apply_rope(q, *rope)
        y = F.scaled_dot_product_attention(q, *kv, dropout_p=self.dropout if self.training else 0.0)
        return self.resid_dropout(self.out(y.transpose(1, 2).flatten(2)))
