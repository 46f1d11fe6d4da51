"""The core's module contract on CDRL and on its DRL baseline: exact resume, checkpoint reload,
DDP equal to one process, bad settings named, the base's own training step.

- Resume: a run interrupted after one epoch and resumed from its checkpoint ends bitwise equal
  to the uninterrupted run: parameters, EMA copies, spectral-norm buffers, both optimisers
  (and their warm-up schedulers, through the parameters), the sampler RNG and the iteration
  counter. Real settings: per-rank noise, Langevin noise on.
- DDP: 2 CPU processes on gloo with per-rank batch 4 end with the parameters of one process on
  the global batch of 8. Exact only if no draw depends on the split: every training draw (level,
  data noise, initializer noise) keyed by example index (``init_noise="example"``) and
  noiseless Langevin (``revision.noise_scale=0``), the core's own pattern (one Philox stream per
  rank cannot equal one per global batch). What is left is the float order of the gradient
  all-reduce, hence ``atol``. Adam's eps is 1e-6 there: units behind a ReLU that is (nearly)
  dead get gradients at the level of float rounding (~1e-10), which eps = 1e-8 turns into steps
  of up to lr / 100 that differ between the runs (DRL: 4e-4 apart after 4 steps; 7e-7 with
  eps = 1e-6; a split-dependent draw shows as differences of the order of lr = 1e-2).
  Spectral norm is off there: ``ddp_spawn`` pickles the module, and torch cannot pickle
  parametrized modules (``strategy=ddp``, as in ``paper.yaml``, builds the
  module in each process instead).
"""

import pytest
import torch

from latent_ebm.cdrl import CDRLModule
from latent_ebm.cdrl.data import Examples, make_toy
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing.contract import ModuleContract

N = 16
X = make_toy("mixture", N, seed=3).float()


class TestCDRLContract(ModuleContract):
    use_initializer = True
    ddp_epochs = 2
    bad_values = (
        ({"revision": {"n_steps": 0}}, "revision.n_steps"),
        ({"revision": {"step_size": -1.0}}, "revision.step_size"),
        ({"sample_steps": 0}, "sample_steps"),
        ({"data_shape": (1, 2)}, "data_shape"),
        ({"energy_optim": {"lr": 0.0}}, "energy_optim.lr"),
        ({"initializer_optim": {"warmup_steps": -1}}, "initializer_optim.warmup_steps"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"num_classes": -1}, "num_classes"),
        ({"p_uncond": 1.0}, "p_uncond"),
        ({"n_levels": 0}, "n_levels"),
        ({"step_coeff": 0.0}, "step_coeff"),
        ({"init_noise": "batch"}, "init_noise"),
        ({"fid_inception": True}, "fid_inception"),
        ({"ema_warmup": "yes"}, "ema_warmup"),
        ({"init_arch": "big"}, "init_arch"),
        ({"init_arch": "ddpm"}, "init_arch"),  # vectors: the DDPM UNet takes images only
        ({"init_blocks": 0}, "init_blocks"),
        ({"init_dropout": 1.0}, "init_dropout"),
    )

    def make_module(self, **kw):
        base = dict(data_shape=(2,), ebm_width=16, ebm_mult=(1, 1), init_width=16, init_mult=(1, 1),
                    revision=LangevinSchedule(n_steps=3, step_size=1.0), step_coeff=1e-3,
                    energy_optim={"lr": 1e-2, "warmup_steps": 3}, initializer_optim={"lr": 1e-2, "warmup_steps": 3},
                    ema_decay=0.5, use_initializer=self.use_initializer, seed=7)
        return CDRLModule(**{**base, **kw})

    def make_ddp_module(self):
        optim = {"lr": 1e-2, "warmup_steps": 3, "eps": 1e-6}
        return self.make_module(spectral_norm=False, init_noise="example", energy_optim=optim,
                                initializer_optim=optim,
                                revision=LangevinSchedule(n_steps=3, step_size=1.0, noise_scale=0.0))

    def make_dataset(self):
        return Examples(X, torch.zeros(N, dtype=torch.long))

    def check_resumed_state(self, state):
        assert state["extra"]["iterations"] == self.resume_epochs * N // self.batch_size
        assert len(state["optimizers"]) == (2 if self.use_initializer else 1)
        sd = state["state_dict"]
        moved = [k for k in sd if k.startswith("ebm_ema.") and not torch.equal(sd[k], sd["ebm." + k[8:]])]
        assert moved  # the EMA copy is a real average, and it is part of what must match

    def check_ddp_state(self, ref):
        start = self.make_ddp_module().state_dict()
        trained = ["ebm.head.weight"] + (["initializer.out.weight"] if self.use_initializer else [])
        for k in trained:
            assert not torch.equal(ref["state_dict"][k], start[k])  # every network trained
        assert ref["extra"]["iterations"] == self.ddp_epochs * N // (2 * self.batch_size)


class TestDRLContract(TestCDRLContract):
    use_initializer = False
    ddp_atol = 1e-5  # 6.6e-7 seen (see the module docstring)


def test_example_noise_needs_indices():
    m = CDRLModule(data_shape=(2,), ebm_width=8, ebm_mult=(1,), init_width=8, init_mult=(1,), init_noise="example")
    with pytest.raises(ValueError, match="example indices"):
        m.condition({"x": X[:4], "y": torch.zeros(4, dtype=torch.long)})


def test_batches_are_dicts():
    m = CDRLModule(data_shape=(2,), ebm_width=8, ebm_mult=(1,), init_width=8, init_mult=(1,))
    with pytest.raises(ValueError, match="batch='tuple'"):
        m.condition((X[:4], torch.zeros(4), torch.arange(4)))
