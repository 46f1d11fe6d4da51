"""The module: diverged chains are left out of the loss and counted; a tiny toy run lowers
KL(true || model) below the initial model's with finite energies; the toys' exact densities."""

import math

import pytest
import torch

from latent_ebm.core.testing.contract import tiny_trainer
from latent_ebm.stanley import StanleyDataModule, StanleyModule
from latent_ebm.stanley.data import TOYS, Toy
from latent_ebm.stanley.metrics import grid, toy_kl


def test_toy_densities_are_normalised_and_sampled_inside_the_box():
    pts, area = grid(400)
    for name in TOYS:
        toy = Toy(name)
        assert toy.log_prob(pts).exp().sum().item() * area == pytest.approx(1.0, abs=2e-3), name
        s = toy.sample(5000, torch.Generator().manual_seed(0))
        assert s.abs().max() < 2.5 and torch.isfinite(toy.log_prob(s)).all(), name
    # the exact density matches the samples: mean log p of exact samples ~ -entropy, below max
    assert toy_kl(lambda x: Toy("rings").log_prob(x).float(), "rings") == pytest.approx(0.0, abs=1e-6)
    # at temperature T the model is exp(f / T): f = T log p is exact there and too flat at T = 1
    f = lambda x: 0.01 * Toy("rings").log_prob(x).float()  # noqa: E731
    assert toy_kl(f, "rings", temperature=0.01) == pytest.approx(0.0, abs=1e-6)
    assert toy_kl(f, "rings") > 0.1
    with pytest.raises(ValueError, match="temperature=0"):
        toy_kl(f, "rings", temperature=0.0)


def test_energy_loss_leaves_out_diverged_chains():
    m = StanleyModule(data_shape=(2,), width=8, seed=0)
    x = torch.randn(6, 2)
    z = torch.randn(6, 2)
    z_bad = z.clone()
    z_bad[[1, 4]] = float("nan")
    loss, logs = m.energy_loss(x, z_bad, None)
    keep = [0, 2, 3, 5]
    expected = m.f(z[keep]).mean() - m.f(x).mean()
    torch.testing.assert_close(loss, expected)
    assert logs["train/diverged_chains"].item() == 2
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters())
    m.zero_grad()
    loss, logs = m.energy_loss(x, torch.full_like(z, float("nan")), None)
    loss.backward()
    assert loss.item() == 0.0 and all((p.grad == 0).all() for p in m.parameters())


class _HalfDiverges(StanleyModule):
    """Test double: every other chain comes back NaN (the hook a sampler fills)."""

    def revise(self, x_init, cond, *, diagnostics=None, generator=None):
        z = super().revise(x_init, cond, diagnostics=diagnostics, generator=generator)
        z[::2] = float("nan")
        return z


def test_training_with_diverged_chains_logs_them_and_stays_finite(tmp_path):
    m = _HalfDiverges(data_shape=(2,), width=8, init_range=2.5, revision={"n_steps": 3, "noise_scale": 0.1,
                                                                          "threshold": 0.05}, seed=0)
    dm = StanleyDataModule("rings", batch_size=10, n_train=30, n_val=10, n_test=10)
    tiny_trainer(tmp_path, max_steps=3, limit_val_batches=0).fit(m, dm)
    assert m.trainer.callback_metrics["train/diverged_chains"].item() == 5
    assert all(torch.isfinite(p).all() for p in m.parameters())


def test_tiny_toy_run_lowers_kl_and_ends_finite(tmp_path):
    torch.manual_seed(0)
    m = StanleyModule(data_shape=(2,), width=32, init_range=2.5, eval_samples=0,
                      revision={"n_steps": 20, "noise_scale": 0.1, "threshold": 0.05},
                      energy_optim={"lr": 3e-3}, seed=0)
    kl0 = toy_kl(m.f, "rings")
    dm = StanleyDataModule("rings", batch_size=100, n_train=2000, n_val=100, n_test=100)
    tiny_trainer(tmp_path, max_steps=100, limit_val_batches=0).fit(m, dm)
    kl = toy_kl(m.f, "rings")
    assert kl < kl0 - 0.03, (kl0, kl)
    x = m.sample(200)
    assert torch.isfinite(x).all() and torch.isfinite(m.f(x)).all()


def test_wrong_image_shape_is_named():
    m = StanleyModule(data_shape=(1, 32, 32), width=4)
    with pytest.raises(ValueError, match=r"x.shape=\(2, 1, 28, 28\) is not allowed"):
        m.split_batch({"x": torch.zeros(2, 1, 28, 28), "index": torch.arange(2)})
    with pytest.raises(ValueError, match="data_shape="):
        StanleyModule(data_shape=(1, 28, 28))
    assert math.isfinite(float(m.f(torch.zeros(2, 1, 32, 32)).sum()))
