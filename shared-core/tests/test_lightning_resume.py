"""The exact-resume check can fail: it sees a lost piece of state (the resume itself is tested by
the module contract, test_contract.py, on every base)."""

import functools

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing import (
    LinearGaussian,
    LinearGaussianLEBM,
)
from latent_ebm.core.testing.contract import check_resume

X, _ = LinearGaussian.random(4, 2, 0.5, seed=3).sample(24, seed=1)
X = X.float()


def _indexed():
    return DataLoader(TensorDataset(X, torch.arange(len(X))), batch_size=8)


def test_resume_check_can_fail(tmp_path):
    """Dropping the RNG state from the checkpoint breaks exactness, and the check says so."""

    class Forgetful(LinearGaussianLEBM):
        def on_load_checkpoint(self, checkpoint):
            checkpoint["latent_ebm"].pop("rng")
            super().on_load_checkpoint(checkpoint)

    with pytest.raises(AssertionError, match="differ"):
        check_resume(functools.partial(Forgetful, posterior=LangevinSchedule(5, 0.1)), _indexed, tmp_path)


class _Dropout(LinearGaussianLEBM):
    """Dropout on the decoder's input: its masks come from torch's global generator."""

    def log_likelihood(self, x, z):
        return super().log_likelihood(x, torch.nn.functional.dropout(z, 0.3, training=self.training))


def test_resume_is_exact_with_dropout(tmp_path):
    """torch's global generator (dropout masks) is saved and restored with the sampler RNG."""
    check_resume(functools.partial(_Dropout, posterior=LangevinSchedule(3, 0.1)), _indexed, tmp_path)
