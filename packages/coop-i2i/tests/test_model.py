"""The model learns: its fit raises the data's likelihood, and the learned EBM prior puts its
samples where the data is (known answer: every sample near one of the ring's 8 modes)."""

import math

import torch

from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing.contract import tiny_trainer
from latent_ebm.coop_i2i import CoopI2iDataModule, CoopI2iModule
from latent_ebm.coop_i2i.data import ring_mixture


def _eval_nll(model, dm):
    return tiny_trainer(".").validate(model, dm, verbose=False)[0]["val/nll"]


def test_fit_lowers_nll_and_samples_land_on_the_ring(tmp_path):
    dm = CoopI2iDataModule(n_train=1024, n_val=256, batch_size=128)
    model = CoopI2iModule(obs_sigma=0.2, posterior=LangevinSchedule(20, 0.1), seed=0)
    before = _eval_nll(model, dm)
    tiny_trainer(tmp_path, max_epochs=15).fit(model, dm)
    after = _eval_nll(model, dm)
    assert after < before - 1.0, (before, after)
    x = model.sample(512, generator=torch.Generator().manual_seed(1))
    radius = x.norm(dim=1)
    # the ring has radius 2; the N(0, I) prior pushed through an untrained generator has none
    assert (radius - 2.0).abs().median() < 0.5, radius.median()


def test_ring_mixture_has_its_modes():
    x = ring_mixture(4000, std=0.05, seed=1)
    angle = torch.atan2(x[:, 1], x[:, 0]) % (2 * math.pi)
    nearest = torch.round(angle / (2 * math.pi / 8)) % 8
    assert torch.bincount(nearest.long(), minlength=8).min() > 400  # all 8 modes used
    torch.testing.assert_close(x.norm(dim=1).mean(), torch.tensor(2.0), atol=0.01, rtol=0)
