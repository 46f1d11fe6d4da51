"""The core's module contract on StanleyModule: exact resume, checkpoint reload, DDP equal to one
process (example-keyed starts and positive noise, noiseless chains), bad settings named, the
base's own training step."""

from latent_ebm.core.testing.contract import ModuleContract
from latent_ebm.stanley import StanleyDataModule, StanleyModule

N = 16


class TestStanleyContract(ModuleContract):
    # what is left between 2 ranks and one process is the float order of the gradient all-reduce,
    # amplified by Adam (9.3e-6 seen at lr 1e-2); a split-dependent draw shows at the order of lr
    ddp_atol = 5e-5
    bad_values = (
        ({"revision": {"threshold": 0.0}}, "revision.threshold"),
        ({"revision": {"noise_scale": -1.0}}, "revision.noise_scale"),
        ({"revision": {"n_steps": 0}}, "revision.n_steps"),
        ({"data_shape": (1, 28, 28)}, "data_shape"),
        ({"sampler": "hmc"}, "sampler"),
        ({"variant": "code"}, "variant"),
        ({"sampler": "mala", "revision": {"noise_scale": 0.0}}, "revision.noise_scale"),
        ({"init_range": 0.0}, "init_range"),
        ({"data_noise": -0.1}, "data_noise"),
        ({"eval_toy": "moons"}, "eval_toy"),
        ({"energy_optim": {"lr": -1.0}}, "energy_optim.lr"),
    )

    def make_module(self, **kw):
        base = dict(data_shape=(2,), width=16, init_range=2.5,
                    revision={"n_steps": 4, "noise_scale": 0.1, "threshold": 0.05},
                    energy_optim={"lr": 1e-2}, seed=3)
        return StanleyModule(**{**base, **kw})

    def make_ddp_module(self):
        return self.make_module(init_noise="example",
                                revision={"n_steps": 4, "noise_scale": 0.0, "threshold": 0.05},
                                energy_optim={"lr": 1e-2, "eps": 1e-6})

    def make_dataset(self):
        dm = StanleyDataModule("rings", n_train=N)
        dm.setup("fit")
        return dm.train_set

    def make_datamodule(self):
        return StanleyDataModule("rings", n_train=N, batch_size=self.batch_size)

    def check_resumed_state(self, state):
        assert state["extra"]["iterations"] == self.resume_epochs * N // self.batch_size


class TestPersistentStanleyContract(TestStanleyContract):
    """The persistent-chains option: the buffer is part of what resumes exactly."""

    ddp_skip_reason = "each rank keeps its own buffer of persistent chains"
    bad_values = (({"persistent_chains": -1}, "persistent_chains"), ({"reinit_prob": 1.5}, "reinit_prob"))

    def make_module(self, **kw):
        return super().make_module(**{"persistent_chains": 32, **kw})

    def check_resumed_state(self, state):
        super().check_resumed_state(state)
        # the buffer is in the state dict, so the resume test compared it bit for bit
        assert state["state_dict"]["buffer.chains"].shape == (32, 2)
