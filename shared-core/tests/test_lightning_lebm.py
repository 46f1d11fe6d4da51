"""LatentEBMModule: posterior Langevin against the linear-Gaussian model's exact posterior; the
learned EnergyPrior of a linear model on two-mode latents recovers both modes."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from latent_ebm.core.lightning import ChainConfig, OptimConfig
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing import LinearGaussian, LinearGaussianLEBM
from latent_ebm.core.testing.contract import tiny_trainer


@pytest.fixture(scope="module")
def model():
    lg = LinearGaussian.random(4, 2, 0.5, seed=3)
    m = LinearGaussianLEBM(data_dim=4, latent_dim=2, obs_sigma=0.5, seed=0).double()
    with torch.no_grad():
        m.decoder.weight.copy_(lg.W)
    return lg, m


def test_infer_matches_analytic_posterior(model):
    lg, m = model
    # three observations far from the prior mode, so a sampler ignoring x would fail
    z_true = torch.tensor([[2.0, -1.5], [-1.0, 1.0], [0.5, 2.0]], dtype=torch.float64)
    x = z_true @ lg.W.T
    mean, cov = lg.posterior(x)
    n = 3000
    u = m.infer(x.repeat_interleave(n, 0), schedule=LangevinSchedule(300, 0.15, method="mala"))
    u = u.view(3, n, 2)
    for i in range(3):
        assert torch.allclose(u[i].mean(0), mean[i], atol=0.03), (u[i].mean(0), mean[i])
        assert torch.allclose(torch.cov(u[i].T), cov, atol=0.03), (torch.cov(u[i].T), cov)
    assert mean.abs().max() > 0.5  # the check can tell the posterior from the prior


def test_infer_replays_from_generator_and_works_under_inference_mode(model):
    _, m = model
    x = torch.randn(5, 4, dtype=torch.float64)
    a = m.infer(x, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        b = m.infer(x.clone(), generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def _two_mode_data(n, seed):
    """x = w z + 0.5 e, z ~ 0.5 N(-2, 0.25²) + 0.5 N(2, 0.25²), w = (2, 2, 1)/3 (unit norm).
    Returns (x (n, 3), mode sign (n,))."""
    g = torch.Generator().manual_seed(seed)
    sign = (torch.randint(0, 2, (n,), generator=g) * 2 - 1).float()
    z = 2.0 * sign + 0.25 * torch.randn(n, generator=g)
    w = torch.tensor([2.0, 2.0, 1.0]) / 3
    return z[:, None] * w + 0.5 * torch.randn(n, 3, generator=g), sign


def _fit_and_measure_prior(prior, tmp_path):
    """Fit decoder and prior by LatentEBMModule's training step (posterior Langevin, prior
    Langevin for the EBM), then measure the prior's samples against the learned modes.

    The latent scale and sign are not identifiable (w and z trade a factor), so the modes are
    located in the learned latent space as the posterior means c+ and c- of held-out data from
    each true mode. Returns the fractions of 4000 prior samples within |c+ - c-| / 4 of c+, of
    c- and of their midpoint; the true latent law puts ~0.5, ~0.5 and ~0 there."""
    torch.manual_seed(0)
    m = LinearGaussianLEBM(
        data_dim=3, latent_dim=1, obs_sigma=0.5, prior=prior, prior_hidden=32,
        posterior=LangevinSchedule(20, 0.3), prior_langevin=LangevinSchedule(30, 0.4),
        optim=OptimConfig(lr=3e-2, algorithm="adam", betas=(0.5, 0.999)),
        prior_optim=OptimConfig(lr=3e-3, algorithm="adam", betas=(0.5, 0.999)), seed=0,
    )
    x, _ = _two_mode_data(4096, seed=0)
    loader = DataLoader(TensorDataset(x), batch_size=512, shuffle=True)
    tiny_trainer(tmp_path, max_epochs=10).fit(m, loader)  # 80 steps
    x_test, sign = _two_mode_data(2000, seed=1)
    u = m.infer(x_test, generator=torch.Generator().manual_seed(1)).squeeze(1)
    c_plus, c_minus = u[sign > 0].mean(), u[sign < 0].mean()
    assert (c_plus - c_minus).abs() > 1.0  # the posterior separates the two modes
    u_prior = m.sample_prior(4000, generator=torch.Generator().manual_seed(2)).squeeze(1)
    h = (c_plus - c_minus).abs() / 4
    near = lambda c: ((u_prior - c).abs() < h).float().mean().item()  # noqa: E731
    return near(c_plus), near(c_minus), near((c_plus + c_minus) / 2)


def test_learned_energy_prior_puts_mass_on_both_latent_modes(tmp_path):
    """Issue 2's EnergyPrior test end to end: a linear map cannot make two modes, so p(x) is
    bimodal only if the learned prior is. The EBM prior's short-run samples must hold > 25% near
    each learned mode and a small fraction between them (measured: ~0.45, ~0.45, ~0.03)."""
    plus, minus, mid = _fit_and_measure_prior("ebm", tmp_path)
    assert plus > 0.25 and minus > 0.25, (plus, minus)
    assert mid < 0.25 * min(plus, minus), (plus, minus, mid)


def test_gaussian_prior_on_the_same_data_stays_unimodal(tmp_path):
    """Control: the same fit with GaussianPrior cannot learn the two modes; its prior holds more
    mass between the posterior modes than near either (N(0, 1), c = ±1.1: ~0.24, ~0.24, ~0.44)."""
    plus, minus, mid = _fit_and_measure_prior("gaussian", tmp_path)
    assert mid > 1.2 * max(plus, minus), (plus, minus, mid)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match=r"prior_optim\.lr=-1\.0 is not allowed"):
        LinearGaussianLEBM(prior_optim={"lr": -1.0})
    with pytest.raises(ValueError, match=r"chains\.n_examples=0 is not allowed"):
        LinearGaussianLEBM(chains=ChainConfig(persistent=True))
    with pytest.raises(ValueError, match=r"posterior\.n_steps=-1 is not allowed"):
        LinearGaussianLEBM(posterior={"n_steps": -1, "step_size": 0.1})
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['lr_typo'\]"):
        LinearGaussianLEBM(optim={"lr_typo": 1.0})
    with pytest.raises(ValueError, match="init_noise"):
        LinearGaussianLEBM(init_noise="batch")


def test_training_logs_hook_adds_values_to_the_step_logs(tmp_path):
    """``training_logs(x, u_post, u_prior)`` is called each training step with the step's samples;
    what it returns is logged beside the losses (ODE-LEBM logs its solver cost this way)."""
    seen = []

    class Logged(LinearGaussianLEBM):
        def training_logs(self, x, u_post, u_prior):
            seen.append((x.shape[0], u_post.shape, None if u_prior is None else u_prior.shape))
            return {"train/post_sq_norm": u_post.square().sum(1).mean()}

    m = Logged(data_dim=3, latent_dim=2, prior="ebm", prior_hidden=8, posterior=LangevinSchedule(2, 0.1),
               prior_langevin=LangevinSchedule(2, 0.4), seed=0)
    x = torch.randn(24, 3)
    trainer = tiny_trainer(tmp_path, max_steps=6)  # 3 batches, two optimiser steps each
    trainer.fit(m, DataLoader(TensorDataset(x), batch_size=8))
    assert seen == [(8, torch.Size([8, 2]), torch.Size([8, 2]))] * 3
    assert "train/post_sq_norm" in trainer.callback_metrics and "train/nll" in trainer.callback_metrics
