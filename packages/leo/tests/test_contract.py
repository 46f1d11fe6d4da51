"""The core's module contract on LEOModule: exact resume, checkpoint reload, DDP equal to one
process (example-keyed noise), bad settings named. LEOModule is an amortised model (encoder) on
SeededModule, so the contract's base-owns-the-step check does not apply."""

from latent_ebm.core.testing.contract import ModuleContract
from latent_ebm.leo import LEOModule, make_task
from latent_ebm.leo.data import TaskDataset

N = 16


class TestLEOContract(ModuleContract):
    bad_values = (
        ({"y_sigma": 0.0}, "y_sigma"),
        ({"prior": "flow"}, "prior"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"n_classes": 1}, "n_classes"),
        ({"noise_magnitude": 0.5}, "noise_magnitude"),
        ({"n_waymarks": 0}, "n_waymarks"),
        ({"y_star_offset": float("nan")}, "y_star_offset"),
        ({"design_langevin": {"n_steps": 0}}, "design_langevin.n_steps"),
        ({"optim": {"lr": -1.0}}, "optim.lr"),
    )

    def make_module(self, **kw):
        base = dict(latent_dim=4, hidden=16, prior_hidden=16, n_waymarks=2, seed=3)
        return LEOModule(**{**base, **kw})

    def make_ddp_module(self):
        return self.make_module(init_noise="example")

    def make_dataset(self):
        task = make_task("synthetic-seq", n_train=N)
        y = (task.y_train - task.y_train.mean()) / task.y_train.std()
        return TaskDataset(task.x_train, y)

    def check_resumed_state(self, state):
        assert state["extra"]["iterations"] == self.resume_epochs * N // self.batch_size
