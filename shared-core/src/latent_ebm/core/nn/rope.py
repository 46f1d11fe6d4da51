"""Rotary position embeddings (RoPE; Su et al. 2021, "RoFormer", eq. 34) and latent positions.

Pairs are interleaved as in LLaMA / llama2.c: coordinates (2i, 2i+1) of a head are rotated by
angle pos * theta^(-2i / head_dim). The rotation is computed in float32 and cast back.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["apply_rope", "latent_positions", "rope_tables"]


def rope_tables(head_dim: int, max_pos: int, theta: float = 10000.0) -> tuple[Tensor, Tensor]:
    """cos and sin of pos * theta^(-2i/head_dim): two float32 tensors (max_pos, head_dim // 2)."""
    if head_dim % 2:
        raise ValueError(f"head_dim={head_dim} is not allowed; RoPE needs an even head dimension")
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(max_pos, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate x (B, H, T, hd) by the angles of cos/sin (T, hd // 2), one row per position."""
    xf = x.float().unflatten(-1, (-1, 2))  # (B, H, T, hd/2, 2)
    x_re, x_im = xf.unbind(-1)
    out = torch.stack((x_re * cos - x_im * sin, x_re * sin + x_im * cos), dim=-1)
    return out.flatten(-2).type_as(x)


def latent_positions(group_size: int, n_latents: int, max_seq_len: int) -> Tensor:
    """RoPE positions of the latents one cross-attention reads: k * floor(max_seq_len / n_latents).

    As in the first-party LTM code (Kong et al. 2025, ``model.py``: ``interval = max_seq_len //
    max_z_len`` with ``max_z_len`` the *total* latent count): the spacing comes from the total
    count, and the k-th latent of *every* layer's group sits at position k * spacing. For LTM-S
    (1024 tokens, 24 latents, 3 layers) that is 0, 42, ..., 294 in each layer. Returns (group_size,).
    """
    if n_latents < 1 or n_latents > max_seq_len:
        raise ValueError(
            f"n_latents={n_latents} is not allowed with latent RoPE; it must be in [1, max_seq_len="
            f"{max_seq_len}] so that the latent spacing floor(max_seq_len / n_latents) is >= 1"
        )
    return torch.arange(group_size) * (max_seq_len // n_latents)
