"""Next-token choice from logits: greedy, temperature, top-k, nucleus (Holtzman et al. 2020, sec. 3.1)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["check_sampling", "sample_next_token"]


def check_sampling(
    temperature: float, top_k: int | None, top_p: float | None, vocab_size: int
) -> None:
    """Raise ``ValueError`` naming the first bad sampling setting."""
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not (math.isfinite(temperature) and temperature >= 0)
    ):
        raise ValueError(
            f"temperature={temperature!r} is not allowed; it must be a finite number >= 0 (0: greedy)"
        )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k={top_k!r} is not allowed; it must be None or an int >= 1")
    if top_p is not None and (
        isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 < top_p <= 1
    ):
        raise ValueError(f"top_p={top_p!r} is not allowed; it must be None or a number in (0, 1]")
    if top_k is not None and top_k > vocab_size:
        raise ValueError(f"top_k={top_k} is not allowed; it must be <= vocab_size={vocab_size}")


def sample_next_token(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """logits (B, V) -> token ids (B,).

    temperature 0 is greedy (argmax). Otherwise logits / temperature, then keep the top_k
    largest, then the smallest set whose probability reaches top_p (the most likely token is
    always kept), and draw from the renormalised rest with ``generator``.
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of the tokens ranked above each one
        drop_sorted = before >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
