"""LatentEBMModule: posterior Langevin against the linear-Gaussian model's exact posterior."""

import pytest
import torch

from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing import LinearGaussian, LinearGaussianLEBM


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


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="generator_lr"):
        LinearGaussianLEBM(generator_lr=-1.0)
    with pytest.raises(ValueError, match="n_examples"):
        LinearGaussianLEBM(persistent_posterior=True)
    with pytest.raises(ValueError, match="init_noise"):
        LinearGaussianLEBM(init_noise="batch")
