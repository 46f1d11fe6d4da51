"""The core's module contract on both modules: exact resume, checkpoint reload, DDP equal to one
process (the MCMC module), bad settings named, the base's own training step."""

from latent_ebm.core.lightning import ChainConfig
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing.contract import ModuleContract
from latent_ebm.nerf_lebm import NeRFLEBMDataModule, NeRFLEBMModule, NeRFVAEModule

N = 8
TINY = dict(image_size=8, shape_dim=2, app_dim=2, width=8, depth=2, pe_x=1, pe_d=1, map_hidden=4, n_samples=4,
            prior_hidden_shape=4, prior_hidden_app=4)


def _dataset():
    dm = NeRFLEBMDataModule(image_size=8, n_train=N)
    dm.setup("fit")
    return dm.train_set


class TestNeRFLEBMContract(ModuleContract):
    bad_values = (
        ({"obs_sigma": 0.0}, "obs_sigma"),
        ({"prior": "flow"}, "prior"),
        ({"pose": "guess"}, "pose"),
        ({"field": "mlp"}, "field"),
        ({"image_size": 2}, "image_size"),
        ({"near": 20.0}, "near"),
        ({"rays_per_image": 0}, "rays_per_image"),
        ({"posterior": {"n_steps": -1}}, "posterior.n_steps"),
        ({"optim": {"lr": -1.0}}, "optim.lr"),
    )

    def make_module(self, **kw):
        base = dict(TINY, rays_per_image=16, posterior=LangevinSchedule(2, 0.05), prior_langevin=LangevinSchedule(2, 0.5),
                    chains=ChainConfig(persistent=True, n_examples=N), seed=3)
        return NeRFLEBMModule(**{**base, **kw})

    def make_ddp_module(self):
        quiet = {"noise_scale": 0.0}
        return self.make_module(init_noise="example", rays_per_image=None, posterior=quiet, prior_langevin=quiet)

    def make_dataset(self):
        return _dataset()

    def check_resumed_state(self, state):
        assert state["extra"]["iterations"] == self.resume_epochs * N // self.batch_size


class TestNeRFVAEContract(ModuleContract):
    bad_values = (({"encoder_width": 0}, "encoder_width"), ({"prior": "flow"}, "prior"))
    ddp_skip_reason = "the DDP contract runs once per package (NeRFLEBMModule)"

    def make_module(self, **kw):
        return NeRFVAEModule(**{**TINY, "rays_per_image": 16, "prior_langevin": LangevinSchedule(2, 0.5), "seed": 3, **kw})

    def make_dataset(self):
        return _dataset()
