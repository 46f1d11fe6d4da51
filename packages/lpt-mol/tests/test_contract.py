"""The core's module contract on LPTMolModule: exact resume (persistent chains, the optimiser, the
sampler RNG, the vocabulary), checkpoint reload with ``weights_only=True``, DDP equal to one
process, bad settings named, the base's own training step.

The data are 16 NCI molecules that RDKit ships (offline), all of the same SELFIES length: the
generator's loss is a token mean, so two ranks average to the one-process loss only when each
rank's batch holds as many tokens as the other's. DDP also needs split-independent noise: chain
starts keyed by example (``init_noise="example"``) and noiseless Langevin.

Dropout is off in every test here: its masks come from torch's global RNG, which Lightning does not
checkpoint, so a resumed run with dropout draws other masks than the uninterrupted one (and two
ranks other masks than one process). The sampler's own noise is exact on resume."""

from functools import cache

import torch

from latent_ebm.core.testing.contract import ModuleContract
from latent_ebm.lpt_mol import LPTMolDataModule, LPTMolModule
from latent_ebm.lpt_mol.data import TokenDataset

N = 16
LENGTH = 22  # SELFIES tokens + <eos> of every molecule in the set
MAX_LEN = 24


@cache
def _molecules() -> tuple[torch.Tensor, torch.Tensor]:
    dm = LPTMolDataModule(dataset="nci5k", limit=400, properties=("qed",))
    dm.setup("fit")
    x, y = dm.train_set.x, dm.train_set.y
    keep = ((x[:, 1:] != 0).sum(1) == LENGTH).nonzero().flatten()[:N]
    assert len(keep) == N
    return x[keep, : MAX_LEN + 1].clone(), y[keep].clone()


class TestLPTMolContract(ModuleContract):
    ddp_atol = 1e-5
    bad_values = (
        ({"n_latent": 0}, "n_latent"),
        ({"properties": ("foo",)}, "properties"),
        ({"phase": "bar"}, "phase"),
        ({"prop_precision": 0.0}, "prop_precision"),
        ({"dropout": 1.0}, "dropout"),
        ({"posterior": {"step_size": -1.0}}, "posterior.step_size"),
        ({"optim": {"lr": 0.0}}, "optim.lr"),
        ({"chains": {"persistent": True}}, "chains.n_examples"),
    )

    def make_module(self, **kw):
        base = dict(vocab_size=48, max_len=MAX_LEN, n_latent=2, latent_dim=16, unet_base=8, unet_multipliers=(1, 2),
                    d_model=16, n_layers=1, n_heads=2, prop_hidden=(8,), dropout=0.0, prop_dropout=0.0, phase="finetune",
                    posterior={"n_steps": 2, "step_size": 0.3, "noise_scale": 0.5}, optim={"lr": 2e-3},
                    chains={"persistent": True, "n_examples": N}, seed=3)
        return LPTMolModule(**{**base, **kw})

    def make_ddp_module(self):
        # SGD, not AdamW: the UNet's conv biases feed a GroupNorm, so their gradient is 0 up to
        # float noise, which Adam's normalisation blows up to steps of ~lr that differ between one
        # process and two ranks (an order-of-summation effect, not a reduction error).
        return self.make_module(init_noise="example", posterior={"n_steps": 2, "step_size": 0.3, "noise_scale": 0.0},
                                optim={"lr": 0.05, "algorithm": "sgd"})

    def make_dataset(self):
        return TokenDataset(*_molecules())

    def check_resumed_state(self, state):
        assert state["extra"]["iterations"] == self.resume_epochs * N // self.batch_size
        assert state["extra"]["posterior_chains"]["seen"].all()
        assert len(state["optimizers"]) == 1  # the UNet prior learns in the generator's optimiser

    def check_ddp_state(self, ref):
        assert ref["extra"]["posterior_chains"]["seen"].all()  # rank 1's chains reached rank 0 too
        start = self.make_ddp_module().state_dict()
        assert not torch.equal(ref["state_dict"]["prop.heads.0.0.weight"], start["prop.heads.0.0.weight"])
