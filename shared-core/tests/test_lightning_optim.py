"""The optimiser machinery: the LPT code's schedule (warm-up, hold, cosine) and decay scopes."""

import math

import pytest
import torch
from torch import nn

from latent_ebm.core.lightning import OptimConfig, build_optimizer, decay_groups, warmup_cosine


def _lpt_code_lr(it, lr=7.5e-4, min_lr=7.5e-5, warmup=600, hold_until=2000, decay_until=9000):
    """utils.get_lr of the LPT code, written out from its description (peak after warm-up until
    max_lr_iters, cosine to min_lr at lr_decay_iters)."""
    if it < warmup:
        return lr * (it + 1) / warmup
    if it < hold_until:
        return lr
    if it > decay_until:
        return min_lr
    ratio = (it - hold_until) / (decay_until - hold_until)
    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (lr - min_lr)


@pytest.mark.parametrize("step", [600, 1000, 1999, 2000, 3000, 5500, 8999, 9000, 12000])
def test_hold_then_cosine_matches_the_lpt_code_after_warm_up(step):
    factor = warmup_cosine(step, warmup_steps=600, hold_steps=1400, max_steps=9000, min_ratio=0.1)
    assert 7.5e-4 * factor == pytest.approx(_lpt_code_lr(step), rel=1e-12)


def test_the_scheduler_follows_the_config():
    cfg = OptimConfig(lr=1.0, warmup_steps=2, hold_steps=3, schedule="cosine", max_steps=10, min_lr_ratio=0.0)
    opt, sched = build_optimizer([nn.Parameter(torch.zeros(2))], cfg)
    lrs = []
    for _ in range(11):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:5] == pytest.approx([1 / 3, 2 / 3, 1.0, 1.0, 1.0])
    assert lrs[5] == pytest.approx(1.0) and lrs[10] == pytest.approx(0.0) and lrs[6] < 1.0
    with pytest.raises(ValueError, match="optim.hold_steps=-1 is not allowed"):
        OptimConfig(hold_steps=-1)


def test_exempt_parameters_never_decay():
    decoder, head = nn.Linear(3, 3), nn.Linear(3, 1)
    groups = decay_groups([*decoder.parameters(), *head.parameters()], 0.1, "matrices", exempt=head.parameters())
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    assert decayed == {id(decoder.weight)}
    groups = decay_groups([*decoder.parameters(), *head.parameters()], 0.1, "all", exempt=[head.weight])
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    assert decayed == {id(decoder.weight), id(decoder.bias), id(head.bias)}
    assert sum(len(g["params"]) for g in groups) == 4
