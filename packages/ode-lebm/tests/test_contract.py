"""The core's module contract on ODE-LEBM and on the amortised latent ODE baseline: exact resume
(persistent chains, both optimisers, the sampler RNG), checkpoint reload, DDP equal to one
process, bad settings named.

DDP is exact up to the float order of the gradient all-reduce only when no draw depends on the
split: chain starts keyed by sequence index (``init_noise="example"``) and noiseless Langevin."""

import torch

from latent_ebm.core.lightning import ChainConfig
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing.contract import ModuleContract
from latent_ebm.ode_lebm import LatentODEVAE, ODELEBMDataModule, ODELEBMModule

N = 16


def _sequences():
    return ODELEBMDataModule(dataset="sinusoids", n_train=N, train_steps=8, seed=0).split("train")


class TestODELEBMContract(ModuleContract):
    ddp_epochs = 2
    ddp_atol = 1e-5
    bad_values = (
        ({"prior": "flow"}, "prior"),
        ({"obs_sigma": 0}, "obs_sigma"),
        ({"latent_dim": -2}, "latent_dim"),
        ({"eval_chains": 0}, "eval_chains"),
        ({"chains": {"persistent": True, "n_examples": 0}}, "chains.n_examples"),
        ({"posterior": {"n_steps": 3, "step_size": -0.1}}, "posterior.step_size"),
        ({"prior_optim": {"lr": 0}}, "prior_optim.lr"),
    )

    def make_module(self, **kw):
        base = dict(latent_dim=3, ode_hidden=8, emission_hidden=8, prior_hidden=8,
                    chains=ChainConfig(persistent=True, n_examples=N), posterior=LangevinSchedule(4, 0.1),
                    prior_langevin=LangevinSchedule(4, 0.4), optim={"lr": 1e-2}, prior_optim={"lr": 1e-2}, seed=3)
        return ODELEBMModule(**{**base, **kw})

    def make_ddp_module(self):
        return self.make_module(init_noise="example", posterior=LangevinSchedule(4, 0.1, noise_scale=0.0),
                                prior_langevin=LangevinSchedule(4, 0.4, noise_scale=0.0))

    def make_dataset(self):
        return _sequences()

    def check_ddp_state(self, ref):
        assert ref["extra"]["posterior_chains"]["seen"].all()  # rank 1's chains reached rank 0 too
        start = self.make_ddp_module().state_dict()
        assert not torch.allclose(ref["state_dict"]["emission.net.0.weight"], start["emission.net.0.weight"])

    def check_resumed_state(self, state):
        assert state["extra"]["iterations"] == self.resume_epochs * N // self.batch_size
        assert state["extra"]["posterior_chains"]["seen"].all()
        assert len(state["optimizers"]) == 2  # generator and EBM prior


class TestLatentODEContract(ModuleContract):
    ddp_skip_reason = "the reparameterisation noise comes from the per-rank generator"
    bad_values = (({"obs_sigma": -1.0}, "obs_sigma"), ({"latent_dim": 0}, "latent_dim"))

    def make_module(self, **kw):
        return LatentODEVAE(**{"latent_dim": 3, "ode_hidden": 8, "encoder_hidden": 8, "emission_hidden": 8,
                               "seed": 7, **kw})

    def make_dataset(self):
        return _sequences()
