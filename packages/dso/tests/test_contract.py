"""The core's module contract on DSOModule (the LPT that DSO refits, with its objective weights):
exact resume, reload with ``weights_only=True``, DDP equal to one process, bad settings named, the
base's own training step. Data: 16 NCI molecules of one SELFIES length (see lpt-mol's contract)."""
from functools import cache

import torch

from latent_ebm.core.testing.contract import ModuleContract
from latent_ebm.dso import DSODataModule, DSOModule
from latent_ebm.lpt_mol.data import TokenDataset

N = 16
LENGTH = 22
MAX_LEN = 24


@cache
def _molecules() -> tuple[torch.Tensor, torch.Tensor]:
    dm = DSODataModule(dataset="nci5k", limit=400, properties=("qed", "sa"))
    dm.setup("fit")
    x, y = dm.train_set.x, dm.train_set.y
    keep = ((x[:, 1:] != 0).sum(1) == LENGTH).nonzero().flatten()[:N]
    assert len(keep) == N
    return x[keep, : MAX_LEN + 1].clone(), y[keep].clone()


class TestDSOContract(ModuleContract):
    ddp_atol = 1e-5
    bad_values = (
        ({"objective_weights": (1.0,)}, "objective_weights"),
        ({"objective_weights": (0.0, 0.0)}, "objective_weights"),
        ({"properties": ("foo",)}, "properties"),
        ({"n_latent": 0}, "n_latent"),
        ({"posterior": {"step_size": -1.0}}, "posterior.step_size"),
        ({"optim": {"lr": 0.0}}, "optim.lr"),
        ({"chains": {"persistent": True}}, "chains.n_examples"),
    )

    def make_module(self, **kw):
        base = dict(vocab_size=48, max_len=MAX_LEN, n_latent=2, latent_dim=16, unet_base=8, unet_multipliers=(1, 2),
                    d_model=16, n_layers=1, n_heads=2, prop_hidden=(8,), dropout=0.0, prop_dropout=0.0, phase="finetune",
                    properties=("qed", "sa"), objective_weights=(1.0, 0.5),
                    posterior={"n_steps": 2, "step_size": 0.3, "noise_scale": 0.5}, optim={"lr": 2e-3},
                    chains={"persistent": True, "n_examples": N}, seed=3)
        return DSOModule(**{**base, **kw})

    def make_ddp_module(self):
        return self.make_module(init_noise="example", posterior={"n_steps": 2, "step_size": 0.3, "noise_scale": 0.0},
                                optim={"lr": 0.05, "algorithm": "sgd"})

    def make_dataset(self):
        return TokenDataset(*_molecules())

    def check_resumed_state(self, state):
        assert state["extra"]["iterations"] == self.resume_epochs * N // self.batch_size
        assert state["extra"]["posterior_chains"]["seen"].all()
