"""Settings live where they belong: the base's groups in attributes, the package's constructor
arguments in ``hparams`` (groups as plain dicts, so checkpoints load with ``weights_only=True``).

LightningCLI instantiates a model inside ``_given_hyperparameters_context`` with the config given
for the subclass only, so ``hparams`` can never be trusted to hold the base's settings; the bases
read their groups from attributes (an old base that read them from ``hparams`` failed under the
CLI, found by the LTM package).
"""

import torch
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters_context
from torch import nn

from latent_ebm.core.lightning import DualRateModule, FastLoop, OptimConfig
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing import LinearGaussianLEBM


class _Narrow(DualRateModule):
    """A package module that fixes the base's groups instead of taking them."""

    def __init__(self, dim: int = 3) -> None:
        super().__init__(fast=FastLoop(steps=2, lr=0.05), optim=OptimConfig(lr=0.5))
        self.save_hyperparameters()
        self.w = nn.Linear(dim, 4)

    @property
    def latent_shape(self):
        return (3,)

    def nll(self, x, z):
        return (x - self.w(z)).square().sum(1)


def test_base_groups_are_attributes_whatever_hparams_hold():
    given = {"dim": 3, "_instantiator": "lightning.pytorch.cli.instantiate_module"}
    with _given_hyperparameters_context(hparams=given, instantiator="lightning.pytorch.cli.instantiate_module"):
        module = _Narrow()
    assert module.hparams.dim == 3 and "fast" not in module.hparams
    assert module.fast.steps == 2 and module.fast.lr == 0.05 and module.optim.lr == 0.5
    assert module.init_noise == "rank" and module.fast.eval_mode is True
    local = module.fit_local(torch.randn(5, 4), steps=2)
    assert local.mu.shape == (5, 3)


def test_groups_are_stored_as_plain_dicts_and_rebuilt():
    module = LinearGaussianLEBM(posterior=LangevinSchedule(7, 0.2), optim=OptimConfig(lr=3e-3))
    hp = module.hparams
    assert hp.posterior == {"n_steps": 7, "step_size": 0.2, "noise_scale": 1.0, "method": "ula",
                            "clip_grad": None, "threshold": 1.0, "granularity": "element"}
    assert isinstance(hp.optim, dict) and hp.optim["lr"] == 3e-3
    rebuilt = LinearGaussianLEBM(**hp)  # as load_from_checkpoint does
    assert rebuilt.posterior_schedule == module.posterior_schedule and rebuilt.optim == module.optim
