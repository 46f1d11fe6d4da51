"""DDP (2 CPU processes, gloo, forked) ends with the parameters of one process on the same
global batch. Exact comparison needs per-example randomness that does not depend on the split:
chain starts keyed by example index (init_noise="example") and noiseless Langevin
(noise_scale=0), since one Philox stream per rank cannot reproduce one stream per global batch.
The remaining difference is the float order of the gradient all-reduce (float64, atol 1e-10)."""

import functools

import pytest
import torch

from latent_ebm.core.lightning import ChainConfig, OptimConfig
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing import LinearGaussian, LinearGaussianLEBM
from latent_ebm.core.testing.contract import check_ddp

pytestmark = [pytest.mark.ddp, pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")]

X, _ = LinearGaussian.random(4, 2, 0.5, seed=3).sample(16, seed=1)


def _indexed():
    return torch.utils.data.TensorDataset(X, torch.arange(len(X)))


def _double(cls, **kw):
    return cls(**kw).double()


def test_lebm_ebm_prior_and_chains_match_single_process(tmp_path):
    """Two optimisers (generator + EBM prior), grad clipping and example-keyed persistent chains."""
    make = functools.partial(
        _double, LinearGaussianLEBM, prior="ebm", init_noise="example",
        chains=ChainConfig(persistent=True, n_examples=len(X)),
        optim=OptimConfig(lr=1e-2, algorithm="adam", betas=(0.5, 0.999), grad_clip=1.0),
        prior_optim=OptimConfig(lr=1e-3, algorithm="adam", betas=(0.5, 0.999), grad_clip=1.0),
        posterior=LangevinSchedule(5, 0.1, noise_scale=0.0),
        prior_langevin=LangevinSchedule(5, 0.3, noise_scale=0.0))
    ref, ranks = check_ddp(make, _indexed(), tmp_path, batch_size=4, epochs=2)
    assert ref["extra"]["posterior_chains"]["seen"].all()  # rank 1's chains reached rank 0 too
    assert not torch.equal(ref["state_dict"]["decoder.weight"], make().state_dict()["decoder.weight"])
