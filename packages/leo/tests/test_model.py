"""LEO's own known answers: the design Langevin lands on the analytic p(z | y*) of a linear-Gaussian
latent model; a short fit designs better sequences than random proposals; the prior learners step."""

import pytest
import torch

from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing.contract import tiny_trainer
from latent_ebm.leo import LEODataModule, LEOModule, make_task
from latent_ebm.leo.baselines import random_designs
from latent_ebm.leo.data import TaskDataset


class _Linear(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, z):
        return z @ self.w


def test_design_langevin_lands_on_the_linear_gaussian_posterior():
    """Prior N(0, I), r(z) = w.z, p(y* | z) = N(w.z, sigma²): p(z | y*) = N(S w y* / sigma², S),
    S = (I + w w^T / sigma²)^-1."""
    sigma, y_star = 0.5, 2.0
    w = torch.tensor([1.0, 0.5, 0.0])
    model = LEOModule(latent_dim=3, hidden=8, prior="gaussian", y_sigma=sigma, oversample=1,
                      design_langevin=LangevinSchedule(400, 0.08), seed=0)
    model.regressor = _Linear(w)
    cov = torch.linalg.inv(torch.eye(3) + torch.outer(w, w) / sigma**2)
    mean = cov @ w * y_star / sigma**2
    z = model.design(3000, y_star=y_star, generator=torch.Generator().manual_seed(0))["z"]
    torch.testing.assert_close(z.mean(0), mean, atol=0.06, rtol=0)
    torch.testing.assert_close(torch.cov(z.T), cov, atol=0.06, rtol=0)


def test_short_fit_designs_beat_random_proposals(tmp_path):
    task = make_task("synthetic-seq", n_train=1024, seed=0)
    dm = LEODataModule.from_task(task, batch_size=64, val_fraction=0.0, seed=0)
    model = LEOModule(latent_dim=8, hidden=64, prior_hidden=32, n_waymarks=2, n_candidates=64, oversample=2,
                      design_langevin=LangevinSchedule(30, 0.1), seed=0)
    tiny_trainer(tmp_path, max_epochs=4, limit_val_batches=0).fit(model, dm)
    assert model.y_best.item() == pytest.approx(dm.y_best)
    ours = task.normalise(task.score(model.design(64, generator=torch.Generator().manual_seed(1))["x"]))
    rand = task.normalise(task.score(random_designs(task, 64, seed=1)))
    train = task.normalise(task.y_train)
    assert ours.mean() > rand.mean() + 0.05, (ours.mean(), rand.mean())
    assert ours.max() > train.max(), (ours.max(), train.max())  # beyond the offline data's best


@pytest.mark.parametrize("prior", ["mcmc", "ntre"])
def test_prior_learner_moves_the_energy(prior, tmp_path):
    task = make_task("synthetic-seq", n_train=64, seed=0)
    ys = (task.y_train - task.y_train.mean()) / task.y_train.std()
    loader = torch.utils.data.DataLoader(TaskDataset(task.x_train, ys), batch_size=32)
    model = LEOModule(latent_dim=4, hidden=16, prior=prior, prior_hidden=16, n_waymarks=2,
                      prior_langevin=LangevinSchedule(5, 0.4), seed=0)
    before = [p.detach().clone() for p in model.prior.parameters()]
    tiny_trainer(tmp_path, max_epochs=1).fit(model, loader)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.prior.parameters()))
    assert len(model.optimizer_groups()) == 2


def test_gaussian_ablation_has_no_prior_optimiser():
    assert len(LEOModule(latent_dim=4, hidden=8, prior="gaussian").optimizer_groups()) == 1


def test_bad_design_inputs_are_one_line_errors():
    model = LEOModule(latent_dim=4, hidden=8)
    with pytest.raises(ValueError, match="y_star=inf is not allowed"):
        model.design(4, y_star=float("inf"))
    with pytest.raises(ValueError, match="x.shape="):
        model.check_batch({"x": torch.zeros(2, 5, dtype=torch.long), "y": torch.zeros(2)})
    with pytest.raises(ValueError, match="tokens must be integers in 0..3"):
        model.check_batch({"x": torch.full((2, 8), 7), "y": torch.zeros(2)})


def test_continuous_designs_gaussian_decoder_fit_beats_random_proposals(tmp_path):
    """The Gaussian design decoder (n_classes=0) on 2-d Branin, 3 data orders (seeds): every short
    fit proposes points whose mean value is above uniform draws over the box, and at least 2 of 3
    above the offline data's best (one order alone is not a result: 0.74-0.94 against 0.88 seen)."""
    task = make_task("branin", n_train=1024, seed=0)
    rand = task.normalise(task.score(random_designs(task, 64, seed=1)))
    train = task.normalise(task.y_train)
    means = []
    for seed in range(3):
        dm = LEODataModule.from_task(task, batch_size=64, val_fraction=0.0, seed=seed)
        model = LEOModule(design_dim=2, n_classes=0, latent_dim=4, hidden=64, prior_hidden=32, n_waymarks=2,
                          obs_sigma=0.05, n_candidates=64, oversample=2, design_langevin=LangevinSchedule(30, 0.1),
                          seed=0)
        tiny_trainer(tmp_path / str(seed), max_epochs=8, limit_val_batches=0).fit(model, dm)
        x = model.design(64, generator=torch.Generator().manual_seed(1))["x"]
        assert x.shape == (64, 2) and x.is_floating_point()
        means.append(float(task.normalise(task.score(x)).mean()))
    assert min(means) > rand.mean(), (means, rand.mean())
    assert sum(m > train.max() for m in means) >= 2, (means, train.max())
