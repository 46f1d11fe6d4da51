"""Generators: deterministic, correct protocol masks, changed dynamics outside training ranges."""

import math

import numpy as np
import pytest
import torch

from latent_ebm.core.testing.plugin import requires_dataset
from latent_ebm.ode_lebm import ODELEBMDataModule, make_sequences
from latent_ebm.ode_lebm.data import DATASETS, observation_masks
from latent_ebm.ode_lebm.systems import damped_oscillators, lotka_volterra


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_generators_are_deterministic_and_finite(name):
    a = make_sequences(name, 3, 12, seed=5)
    b = make_sequences(name, 3, 12, seed=5)
    c = make_sequences(name, 3, 12, seed=6)
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)
    assert a.x.shape[:2] == (3, 12) and torch.isfinite(a.x).all()
    assert (a.t[1:] > a.t[:-1]).all()


def test_hopper_state_layout():
    seqs = make_sequences("hopper", 4, 50, seed=3)
    assert seqs.x.shape == (4, 50, 14)  # 7 qpos + 7 qvel
    assert seqs.x.min() > -0.5 and seqs.x.max() < 1.5  # min-max scale of the reference set


def test_noise_free_physics_is_right():
    s = damped_oscillators(2, 80, 0.05, damping=(0.0, 0.0), noise_std=0.0)
    energy = s.x.pow(2).sum(-1)  # undamped: x² + (x'/ω)² is conserved
    assert torch.allclose(energy, energy[:, :1].expand_as(energy), rtol=1e-4)
    lv = lotka_volterra(2, 200, 0.05, noise_std=0.0, scale=1.0).x.double()
    u, v = lv[..., 0], lv[..., 1]  # LV first integral: δu - γ ln u + βv - α ln v
    h = 0.2 * u - torch.log(u) + 0.5 * v - torch.log(v)
    assert torch.allclose(h, h[:, :1].expand_as(h), rtol=1e-4)


def test_masks_partition_the_grid():
    gen = torch.Generator().manual_seed(0)
    mask, interp, extrap = observation_masks(5, 30, 10, 0.3, gen)
    assert torch.equal(mask + interp + extrap, torch.ones(5, 30))
    assert (mask[:, :10].sum(1) == 3).all() and (mask[:, 10:] == 0).all() and (extrap[:, :10] == 0).all()


def test_changed_dynamics_lie_outside_training_range():
    dm = ODELEBMDataModule(dataset="sinusoids", n_train=40, n_test=40, train_steps=10, test_steps=30)
    w_train = dm.split("train").seqs.params[:, 1]
    w_ood = dm.split("ood").seqs.params[:, 1]
    assert w_ood.min() > w_train.max()
    test = dm.split("test")
    assert test.seqs.x.shape[1] == 30 and dm.split("train").seqs.x.shape[1] == 10
    rot = make_sequences("rotating_mnist", 2, 4, shifted=True).params[:, 0]
    assert np.allclose(rot.numpy(), 2 * math.pi / 8)


@requires_dataset("mnist", "train-images-idx3-ubyte.gz")
def test_rotating_mnist_turns_once_in_16_frames():
    frames = make_sequences("rotating_mnist", 2, 17, ranges={"size": 28}).x[:, :, 0]  # (N, T, H, W)
    assert frames.mean() > 0.05  # a real digit, not an empty frame
    assert (frames[:, 16] - frames[:, 0]).abs().mean() < 0.01  # one full turn
    quarter = min((frames[:, 4] - torch.rot90(frames[:, 0], k, dims=(1, 2))).abs().mean() for k in (1, -1))
    assert quarter < 0.25 * (frames[:, 4] - frames[:, 0]).abs().mean()  # frame 4 = 90 degrees


def test_test_scores_the_test_split_and_predict_n_chooses_its_sequences():
    dm = ODELEBMDataModule(dataset="sinusoids", n_train=6, n_val=3, n_test=5, train_steps=8, test_steps=12,
                           batch_size=4)
    dm.setup("test")
    test = dm.test_dataloader().dataset
    assert len(test) == 5 and not torch.equal(test.seqs.x[:3], dm.split("val").seqs.x)
    assert torch.equal(test.seqs.x, dm.split("test").seqs.x)
    assert len(dm.predict_dataloader().dataset) == 5  # predict_n None: the whole test split
    dm.predict_n = 2  # predict --n 2: the first 2 test sequences, as test scores them
    batch = next(iter(dm.predict_dataloader()))
    assert torch.equal(batch["x"], test.seqs.x[:2]) and torch.equal(batch["mask"], test.mask[:2])
    dm.predict_n = 9  # more than n_test: 9 sequences drawn as the test split is
    more = dm.predict_dataloader().dataset
    assert len(more) == 9 and more.seqs.x.shape[1] == 12 and (more.extrap[:, 8:] == 1).all()
