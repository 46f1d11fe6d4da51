"""Optimisers and learning-rate schedules from an :class:`OptimConfig`, written once for the suite.

- :func:`decay_groups`: weight decay on matrices only (tensors of >= 2 dims), nanoGPT's grouping,
  which the LTM and LPT first-party code use.
- :func:`warmup_cosine`: linear warm-up then cosine decay to a floor (nanoGPT's ``get_lr``, the
  LTM first-party schedule); also the inner-loop cosine of dual-rate VB (no warm-up).
- :func:`build_optimizer`: the torch optimiser and its ``LambdaLR`` (None for a constant rate).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from .config import OptimConfig

__all__ = ["build_optimizer", "decay_groups", "warmup_cosine"]


def warmup_cosine(step: int, *, warmup_steps: int = 0, max_steps: int, min_ratio: float,
                  hold_steps: int = 0) -> float:
    """The learning-rate factor at ``step``: (step + 1) / (warmup_steps + 1) during warm-up, 1 for
    ``hold_steps`` more, then min_ratio + (1 - min_ratio) (1 + cos(pi f)) / 2 with
    f = (step - start) / (max_steps - start), start = warmup + hold, clipped to [0, 1]."""
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    start = warmup_steps + hold_steps
    if step < start:
        return 1.0
    frac = min(1.0, (step - start) / max(1, max_steps - start))
    return min_ratio + 0.5 * (1.0 - min_ratio) * (1.0 + math.cos(math.pi * frac))


def decay_groups(params: Iterable[nn.Parameter], weight_decay: float, decay: str = "matrices",
                 exempt: Iterable[nn.Parameter] = ()) -> list[dict]:
    """Parameter groups: ``matrices`` decays tensors of >= 2 dims and not the rest; ``all`` (or no
    decay at all) one group. ``exempt`` parameters never decay (e.g. the LPT code decays only its
    decoder's matrices). Empty groups are left out."""
    params = [p for p in params if p.requires_grad]
    skip = {id(p) for p in exempt}
    if weight_decay == 0 or (decay == "all" and not skip):
        return [{"params": params, "weight_decay": weight_decay}]

    def decays(p: nn.Parameter) -> bool:
        return id(p) not in skip and (decay == "all" or p.dim() >= 2)

    groups = [{"params": [p for p in params if decays(p)], "weight_decay": weight_decay},
              {"params": [p for p in params if not decays(p)], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(
    params: Iterable[nn.Parameter], cfg: OptimConfig, *, total_steps: int | None = None,
    exempt: Iterable[nn.Parameter] = (),
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    """(optimiser, scheduler or None) for ``cfg``. ``total_steps`` is the cosine's length when
    ``cfg.max_steps`` is None (the caller passes the Trainer's); a scheduler steps once per
    optimiser step. ``exempt``: parameters kept out of weight decay (:func:`decay_groups`)."""
    groups = decay_groups(params, cfg.weight_decay, cfg.decay, exempt)
    if cfg.algorithm == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=cfg.lr)
    else:
        cls = torch.optim.AdamW if cfg.algorithm == "adamw" else torch.optim.Adam
        opt = cls(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    if cfg.schedule == "constant" and cfg.warmup_steps == 0:
        return opt, None
    length = cfg.max_steps or total_steps or 1
    if cfg.schedule == "constant":
        def factor(step: int) -> float:
            return min(1.0, (step + 1) / (cfg.warmup_steps + 1))
    else:
        def factor(step: int) -> float:
            return warmup_cosine(step, warmup_steps=cfg.warmup_steps, max_steps=length, min_ratio=cfg.min_lr_ratio,
                                 hold_steps=cfg.hold_steps)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)
