"""The core's module contract on the package's module: exact resume, checkpoint reload, DDP equal
to one process, bad settings named, the base's own training step."""

from latent_ebm.core.lightning import ChainConfig
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing.contract import ModuleContract
from latent_ebm.template import TemplateDataModule, TemplateModule

N = 16


class TestTemplateContract(ModuleContract):
    bad_values = (
        ({"obs_sigma": 0.0}, "obs_sigma"),
        ({"prior": "flow"}, "prior"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"posterior": {"n_steps": -1}}, "posterior.n_steps"),
        ({"optim": {"lr": -1.0}}, "optim.lr"),
        ({"chains": {"persistent": True}}, "chains.n_examples"),
    )

    def make_module(self, **kw):
        base = dict(hidden=16, prior_hidden=16, posterior=LangevinSchedule(4, 0.1),
                    prior_langevin=LangevinSchedule(4, 0.4), chains=ChainConfig(persistent=True, n_examples=N), seed=3)
        return TemplateModule(**{**base, **kw})

    def make_ddp_module(self):
        quiet = {"noise_scale": 0.0}
        return self.make_module(init_noise="example", posterior=quiet, prior_langevin=quiet)

    def make_dataset(self):
        dm = TemplateDataModule(n_train=N)
        dm.setup("fit")
        return dm.train_set

    def make_datamodule(self):
        return TemplateDataModule(n_train=N, batch_size=self.batch_size)

    def check_resumed_state(self, state):
        assert state["extra"]["iterations"] == self.resume_epochs * N // self.batch_size
        assert state["extra"]["posterior_chains"]["seen"].all()
