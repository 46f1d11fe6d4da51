"""The core's module contract on CoopI2IModule: exact resume, checkpoint reload, bad settings
named, the base's own training step (DDP skipped: references are drawn within a rank's batch)."""

from latent_ebm.coop_i2i import CoopI2IDataModule, CoopI2IModule
from latent_ebm.core.testing.contract import ModuleContract

N = 8
TINY = dict(image_size=8, style_dim=4, latent_dim=4, dim_base=4, max_dim=8, bottleneck=4, n_bottleneck=1,
            mapping_hidden=8, mapping_shared=1, mapping_head=1, revision={"n_steps": 2, "step_size": 0.1}, seed=3)


class TestCoopI2IContract(ModuleContract):
    ddp_skip_reason = "the targets and references are drawn within each rank's batch (a split-dependent draw)"
    resume_epochs = 2
    bad_values = (
        ({"revision": {"n_steps": 0}}, "revision.n_steps"),
        ({"revision": {"step_size": 0.0}}, "revision.step_size"),
        ({"n_domains": 0}, "n_domains"),
        ({"image_size": 12}, "image_size"),
        ({"ref_sigma": 0.0}, "ref_sigma"),
        ({"ref_fraction": 1.5}, "ref_fraction"),
        ({"lambda_ds": -1.0}, "lambda_ds"),
        ({"energy_reg": -1.0}, "energy_reg"),
        ({"stages": [4, 16]}, "stages"),
        ({"image_size": 16, "stages": [8, 16], "stage_steps": []}, "stage_steps"),
        ({"energy_optim": {"lr": -1.0}}, "energy_optim.lr"),
    )

    def make_module(self, **kw):
        return CoopI2IModule(**{**TINY, **kw})

    def make_dataset(self):
        dm = CoopI2IDataModule("shapes", image_size=8, n_train=N)
        dm.setup("fit")
        return dm.train_set

    def make_datamodule(self):
        return CoopI2IDataModule("shapes", image_size=8, n_train=N, batch_size=self.batch_size)

    def check_resumed_state(self, state):
        assert state["extra"]["iterations"] == self.resume_epochs * N // self.batch_size
