"""The core's module contract on LPTRLModule: exact resume (persistent per-trajectory chains
included), checkpoint reload, 2-process DDP equal to one process, bad settings named, the base's
own training step."""

from latent_ebm.core.lightning import ChainConfig
from latent_ebm.core.testing.contract import ModuleContract
from latent_ebm.lpt_rl import LPTRLModule
from latent_ebm.lpt_rl.data import TrajectoryDataset, chain_dataset, split_episodes

N = 8


class TestLPTRLContract(ModuleContract):
    resume_epochs = 2
    ddp_atol = 1e-5
    bad_values = (
        ({"env": "atari"}, "env"),
        ({"target_return": float("nan")}, "target_return"),
        ({"return_precision": 0.0}, "return_precision"),
        ({"context": 0}, "context"),
        ({"prior": "flow"}, "prior"),
        ({"posterior": {"n_steps": 0}}, "posterior.n_steps"),
        ({"plan": {"step_size": -1.0}}, "plan.step_size"),
        ({"optim": {"lr": -1.0}}, "optim.lr"),
        ({"chains": {"persistent": True}}, "chains.n_examples"),
    )

    def make_module(self, **kw):
        base = dict(env="chain", d_model=8, n_layers=1, n_heads=2, context=4, n_latent=2, unet_base=8,
                    unet_multipliers=(1, 2), return_hidden=(8,), posterior={"n_steps": 2},
                    chains=ChainConfig(persistent=True, n_examples=N), test_episodes=0, seed=3)
        return LPTRLModule(**{**base, **kw})

    def make_ddp_module(self):
        # dropout off and example-keyed chain starts: the two ranks' draws equal one process's. SGD:
        # Adam turns the float-order noise of near-zero gradients (conv biases before GroupNorm in
        # the UNet) into full-size steps, 1e-5 apart after a few steps
        return self.make_module(init_noise="example", dropout=0.0, return_dropout=0.0, posterior={"noise_scale": 0.0},
                                optim={"algorithm": "sgd", "lr": 0.05, "weight_decay": 0.0})

    def make_dataset(self):
        return TrajectoryDataset(split_episodes(chain_dataset(N, seed=1)), max_len=4, action_high=1.0)

    def check_resumed_state(self, state):
        assert state["extra"]["iterations"] == self.resume_epochs * N // self.batch_size
        assert state["extra"]["posterior_chains"]["seen"].all()
