"""DDP (2 CPU processes, gloo): ODE-LEBM ends with the parameters and persistent chains of one
process on the same global batch (the core's ``check_ddp``). Exact up to the float order of the
gradient all-reduce only when no draw depends on the split: chain starts keyed by sequence index
(``init_noise="example"``) and noiseless Langevin."""

import functools

import pytest
import torch

from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing.contract import check_ddp
from latent_ebm.ode_lebm import ODELEBM, SequenceDataModule

pytestmark = [pytest.mark.ddp, pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")]


def test_ddp_matches_single_process(tmp_path):
    data = SequenceDataModule(dataset="sinusoids", n_train=16, train_steps=8, seed=0).split("train")
    make = functools.partial(
        ODELEBM, latent_dim=3, ode_hidden=8, emission_hidden=8, prior_hidden=8, init_noise="example",
        persistent_posterior=True, n_examples=16, posterior=LangevinSchedule(4, 0.1, noise_scale=0.0),
        prior_langevin=LangevinSchedule(4, 0.4, noise_scale=0.0), generator_lr=1e-2, prior_lr=1e-2, seed=3)
    ref, _ = check_ddp(make, data, tmp_path, batch_size=4, epochs=2, atol=1e-5)
    assert ref["extra"]["posterior_chains"]["seen"].all()  # rank 1's chains reached rank 0 too
    start = make().state_dict()
    assert not torch.allclose(ref["state_dict"]["emission.net.0.weight"], start["emission.net.0.weight"])
