"""A subclass that does not re-declare the base's settings still finds them in ``hparams``.

LightningCLI instantiates a model inside ``_given_hyperparameters_context`` with the config given
for the subclass only; ``save_hyperparameters`` then records just those keys, and a base that read
its own settings from ``hparams`` failed (found by the LTM package).
"""

import torch
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters_context
from torch import nn

from latent_ebm.core.lightning import DualRateModule
from latent_ebm.core.testing import LinearGaussianLEBM


class _Narrow(DualRateModule):
    def __init__(self, dim: int = 3) -> None:
        super().__init__(inner_steps=2, inner_lr=0.05)
        self.save_hyperparameters()  # as a subclass (or LightningCLI) does: only its own args
        self.w = nn.Linear(dim, 4)

    @property
    def latent_shape(self):
        return (3,)

    def nll(self, x, z):
        return (x - self.w(z)).square().sum(1)


def test_base_settings_survive_a_subclass_save_hyperparameters():
    given = {"dim": 3, "_instantiator": "lightning.pytorch.cli.instantiate_module"}
    with _given_hyperparameters_context(hparams=given, instantiator="lightning.pytorch.cli.instantiate_module"):
        module = _Narrow()
    assert module.hparams.dim == 3
    assert module.hparams.inner_steps == 2 and module.hparams.inner_lr == 0.05
    assert module.hparams.init_noise == "rank" and module.hparams.inner_eval_mode is True
    local = module.fit_local(torch.randn(5, 4), steps=2)
    assert local.mu.shape == (5, 3)


def test_lebm_subclass_keeps_its_schedule():
    module = LinearGaussianLEBM()
    assert "posterior" in module.hparams and "generator_lr" in module.hparams
