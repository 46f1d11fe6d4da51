"""Next-token choice from logits: greedy, temperature, top-k, nucleus (Holtzman et al. 2020, sec. 3.1)."""

from __future__ import annotations

import torch
from torch import Tensor

from latent_ebm.core.checks import check_int, check_real

__all__ = ["check_sampling", "sample_next_token"]


def check_sampling(
    temperature: float, top_k: int | None, top_p: float | None, vocab_size: int
) -> None:
    """Raise ``ValueError`` naming the first bad sampling setting."""
    check_real("temperature", temperature, low=0.0)  # 0: greedy
    check_int("top_k", top_k, low=1, high=vocab_size, allow_none=True)
    check_real("top_p", top_p, low=0.0, low_open=True, high=1.0, allow_none=True)


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
