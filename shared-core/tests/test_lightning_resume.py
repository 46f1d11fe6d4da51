"""Exact resume: interrupted + resumed runs end bitwise equal to uninterrupted ones (parameters,
optimiser states, sampler RNG, persistent chains, counters)."""

import functools

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from latent_ebm.core.lightning import ChainConfig, FastLoop
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing import (
    GaussianCoop,
    LinearGaussian,
    LinearGaussianDualRate,
    LinearGaussianLEBM,
)
from latent_ebm.core.testing.contract import check_resume

X, _ = LinearGaussian.random(4, 2, 0.5, seed=3).sample(24, seed=1)
X = X.float()


def _indexed():
    return DataLoader(TensorDataset(X, torch.arange(len(X))), batch_size=8)


@pytest.mark.parametrize("prior", ["gaussian", "ebm"])
def test_lebm_resume_exact(tmp_path, prior):
    make = functools.partial(LinearGaussianLEBM, prior=prior, chains=ChainConfig(persistent=True, n_examples=len(X)),
                             posterior=LangevinSchedule(5, 0.1), prior_langevin=LangevinSchedule(5, 0.3))
    state = check_resume(make, _indexed, tmp_path, epochs=3, interrupt_after=1)
    assert state["extra"]["posterior_chains"]["seen"].all()
    assert state["extra"]["iterations"] == 9


def test_dual_rate_resume_exact(tmp_path):
    make = functools.partial(LinearGaussianDualRate, fast=FastLoop(steps=4))
    check_resume(make, lambda: DataLoader(TensorDataset(X), batch_size=8), tmp_path, epochs=3)


def test_cooperative_resume_exact(tmp_path):
    make = functools.partial(GaussianCoop, revision=LangevinSchedule(5, 0.3))
    check_resume(make, lambda: DataLoader(TensorDataset(X[:, :2]), batch_size=8), tmp_path, epochs=3)


def test_resume_check_can_fail(tmp_path):
    """Dropping the RNG state from the checkpoint breaks exactness, and the check says so."""

    class Forgetful(LinearGaussianLEBM):
        def on_load_checkpoint(self, checkpoint):
            checkpoint["latent_ebm"].pop("rng")
            super().on_load_checkpoint(checkpoint)

    with pytest.raises(AssertionError, match="differ"):
        check_resume(functools.partial(Forgetful, posterior=LangevinSchedule(5, 0.1)), _indexed, tmp_path)
