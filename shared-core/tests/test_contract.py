"""The module contract (``latent_ebm.core.testing.contract.ModuleContract``) on the core's own
modules: the linear-Gaussian model under each base, with settings that exercise every piece of
state (an EBM prior with its own optimiser, persistent chains, clipping, the fast loop)."""

import torch
from torch.utils.data import TensorDataset

from latent_ebm.core.lightning import ChainConfig, FastLoop, OptimConfig
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing import (
    GaussianCoop,
    LinearGaussian,
    LinearGaussianDualRate,
    LinearGaussianLEBM,
)
from latent_ebm.core.testing.contract import ModuleContract

X, _ = LinearGaussian.random(4, 2, 0.5, seed=3).sample(16, seed=1)
X = X.float()
CLIPPED = OptimConfig(lr=1e-2, algorithm="adam", betas=(0.5, 0.999), grad_clip=1.0)


def _lebm(**kw):
    base = dict(prior="ebm", prior_hidden=8, chains=ChainConfig(persistent=True, n_examples=len(X)),
                posterior=LangevinSchedule(5, 0.1), prior_langevin=LangevinSchedule(5, 0.3),
                optim=CLIPPED, prior_optim=CLIPPED, seed=3)
    return LinearGaussianLEBM(**{**base, **kw})


class TestLatentEBMContract(ModuleContract):
    bad_values = (
        ({"optim": {"lr": 0.0}}, "optim.lr"),
        ({"prior_optim": {"grad_clip": -1.0}}, "prior_optim.grad_clip"),
        ({"posterior": {"n_steps": 2, "step_size": -0.1}}, "posterior.step_size"),
        ({"chains": {"persistent": True}}, "chains.n_examples"),
        ({"init_noise": "batch"}, "init_noise"),
        ({"posterior": {"n_steps": 0}}, "posterior.n_steps"),  # learning needs a moving chain
        ({"prior_langevin": {"step_size": 0.0}}, "prior_langevin.step_size"),
    )

    def make_module(self, **kw):
        return _lebm(**kw)

    def make_ddp_module(self):
        quiet = LangevinSchedule(5, 0.1, noise_scale=0.0)
        return _lebm(init_noise="example", posterior=quiet, prior_langevin=quiet)

    def make_dataset(self):
        return TensorDataset(X, torch.arange(len(X)))


class TestDualRateContract(ModuleContract):
    bad_values = (
        ({"fast": {"steps": 0}}, "fast.steps"),
        ({"fast": {"final_ratio": 1.5}}, "fast.final_ratio"),
        ({"optim": {"schedule": "linear"}}, "optim.schedule"),
    )

    def make_module(self, **kw):
        return LinearGaussianDualRate(**{"fast": FastLoop(steps=3, weight_decay=0.0), "seed": 3, **kw})

    def make_ddp_module(self):
        return self.make_module(init_noise="example")

    def make_dataset(self):
        return TensorDataset(X, torch.arange(len(X)))


class TestCooperativeContract(ModuleContract):
    bad_values = (
        ({"initializer_sigma": 0.0}, "initializer_sigma"),
        ({"energy_optim": {"betas": [0.9, 1.0]}}, "energy_optim.betas"),
        ({"revision": {"n_steps": 3, "step_size": 0.1, "method": "hmc"}}, "revision.method"),
        ({"revision": {"n_steps": 0}}, "revision.n_steps"),
    )

    def make_module(self, **kw):
        return GaussianCoop(**{"revision": LangevinSchedule(5, 0.3), "seed": 3, **kw})

    def make_ddp_module(self):
        return self.make_module(revision=LangevinSchedule(5, 0.3, noise_scale=0.0), init_noise="example")

    def make_dataset(self):
        return TensorDataset(X[:, :2], torch.arange(len(X)))
