"""The core's module contract on CDRL: exact resume and DDP equivalence.

- Resume (``check_resume``): a run interrupted after one epoch and resumed from its checkpoint
  ends bitwise equal to the uninterrupted run: parameters, EMA copies, spectral-norm buffers,
  both optimisers (and their warm-up schedulers, through the parameters), the sampler RNG and
  the iteration counter. Real settings: per-rank noise, Langevin noise on.
- DDP (``check_ddp``): 2 CPU processes on gloo with per-rank batch 4 end with the parameters of
  one process on the global batch of 8. Exact only if no draw depends on the split: every
  training draw (level, data noise, initializer noise) keyed by example index
  (``init_noise="example"``) and noiseless Langevin (``noise_scale=0``), the core's own pattern
  (one Philox stream per rank cannot equal one per global batch). What is left is the float
  order of the gradient all-reduce, hence ``atol``.
"""

import functools

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from latent_ebm.cdrl import CDRL
from latent_ebm.cdrl.data import make_toy
from latent_ebm.core.testing.contract import check_ddp, check_resume

X = make_toy("mixture", 16, seed=3).float()


def _dataset():
    return TensorDataset(X, torch.zeros(len(X), dtype=torch.long), torch.arange(len(X)))


SMALL = dict(data_shape=(2,), ebm_width=16, ebm_mult=(1, 1), init_width=16, init_mult=(1, 1), n_steps=3,
             step_coeff=1e-3, ebm_lr=1e-2, init_lr=1e-2, warmup_steps=3, ema_decay=0.5, seed=7)


@pytest.mark.parametrize("use_initializer", [True, False], ids=["cdrl", "drl"])
def test_resume_is_bit_exact(tmp_path, use_initializer):
    make = functools.partial(CDRL, **SMALL, spectral_norm=True, use_initializer=use_initializer)
    state = check_resume(make, lambda: DataLoader(_dataset(), batch_size=4), tmp_path, epochs=3, interrupt_after=1)
    assert state["extra"]["iterations"] == 12
    assert len(state["optimizers"]) == (2 if use_initializer else 1)
    sd = state["state_dict"]
    moved = [k for k in sd if k.startswith("ebm_ema.") and not torch.equal(sd[k], sd["ebm." + k[8:]])]
    assert moved  # the EMA copy is a real average, and it is part of what must match


@pytest.mark.ddp
@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_ddp_matches_single_process(tmp_path):
    # spectral_norm off: ddp_spawn pickles the module, and torch cannot pickle parametrized
    # modules (strategy=ddp, as in paper.yaml, builds the module in each process instead)
    make = functools.partial(CDRL, **SMALL, spectral_norm=False, init_noise="example", noise_scale=0.0)
    ref, _ = check_ddp(make, _dataset(), tmp_path, batch_size=4, epochs=2, atol=1e-6)
    start = make().state_dict()
    for k in ("ebm.head.weight", "initializer.out.weight"):
        assert not torch.equal(ref["state_dict"][k], start[k])  # both networks trained
    assert ref["extra"]["iterations"] == 4


def test_example_noise_needs_indices():
    m = CDRL(**SMALL, init_noise="example")
    with pytest.raises(ValueError, match="example indices"):
        m._normal((2,), 4, None, 0)
