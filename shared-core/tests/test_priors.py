"""Latent priors against closed forms: Gaussian energies, log-densities and gradients; LEBM's prior
with f = 0 (exactly Gaussian: ULA's known discretised moments) and f(z) = a.z (N(sigma² a,
sigma² I)); the contrastive loss learning a two-mode latent law; the UNet prior's transform."""

import math

import pytest
import torch
from torch import nn

from latent_ebm.core.priors import EnergyPrior, GaussianPrior, UNetPrior
from latent_ebm.core.samplers import LangevinSchedule


def gen(seed):
    return torch.Generator().manual_seed(seed)


def zero_f(u):
    return torch.zeros(u.shape[0], dtype=u.dtype)


def ula_gaussian_moments(mean0, var0, target_mean, sigma, s, n_steps):
    """Exact mean and variance after n ULA steps on N(target_mean, sigma²) from N(mean0, var0):
    u <- u - (s²/2)(u - m)/sigma² + s eps is the AR(1) u <- rho u + (1 - rho) m + s eps."""
    rho = 1.0 - s**2 / (2 * sigma**2)
    mean = target_mean + (mean0 - target_mean) * rho**n_steps
    var_inf = s**2 / (1 - rho**2)
    var = var_inf + (var0 - var_inf) * rho ** (2 * n_steps)
    return mean, var


# ---- Gaussian prior --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [3, (2, 4)])
def test_gaussian_energy_log_prob_and_gradient_match_closed_forms(shape):
    prior = GaussianPrior(shape, sigma=1.7).double()
    u = torch.randn(5, *prior.shape, generator=gen(0), dtype=torch.float64, requires_grad=True)
    ref = torch.distributions.Normal(0.0, 1.7).log_prob(u.detach()).flatten(1).sum(1)
    assert torch.allclose(prior.log_prob(u), ref)
    e = prior.energy(u)
    assert e.shape == (5,)
    assert torch.allclose(e, u.detach().flatten(1).square().sum(1) / (2 * 1.7**2))
    (g,) = torch.autograd.grad(e.sum(), u)
    assert torch.allclose(g, u.detach() / 1.7**2)
    assert prior.transform(u) is u


def test_gaussian_samples_have_the_right_moments_and_replay():
    prior = GaussianPrior((2, 3), sigma=0.5)
    x = prior.sample(20000, generator=gen(1))
    assert x.shape == (20000, 2, 3)
    assert x.mean().abs() < 0.01 and abs(x.std().item() - 0.5) < 0.01
    assert torch.equal(prior.sample(7, generator=gen(3)), prior.sample(7, generator=gen(3)))


# ---- Energy prior: closed forms --------------------------------------------------------------


def test_energy_prior_energy_and_gradient_are_minus_f_plus_gaussian():
    prior = EnergyPrior((2, 3), hidden=16, sigma=0.8).double()
    u = torch.randn(6, 2, 3, generator=gen(2), dtype=torch.float64, requires_grad=True)
    e = prior.energy(u)
    f = prior.f(u)
    assert e.shape == f.shape == (6,)
    assert torch.allclose(e, -f + u.flatten(1).square().sum(1) / (2 * 0.8**2))
    (g,) = torch.autograd.grad(e.sum(), u)
    (gf,) = torch.autograd.grad(prior.f(u).sum(), u)
    assert torch.allclose(g, -gf + u.detach() / 0.8**2)


def test_energy_prior_with_f_zero_is_exactly_the_gaussian():
    prior, ref = EnergyPrior(4, f=zero_f, sigma=1.5), GaussianPrior(4, sigma=1.5)
    u = torch.randn(8, 4, generator=gen(3))
    assert torch.allclose(prior.energy(u), ref.energy(u))
    # Default schedule, 60 ULA steps of 0.4 from N(0, sigma²): the AR(1) moments are exact.
    x = prior.sample(20000, generator=gen(4))
    _, var = ula_gaussian_moments(0.0, 1.5**2, 0.0, 1.5, 0.4, 60)
    assert abs(var - 1.5**2) < 0.05  # ULA's discretisation bias is small at this step
    assert x.mean(0).abs().max() < 0.04
    assert torch.allclose(x.var(0), torch.full((4,), var), atol=0.07)


def test_energy_prior_with_linear_f_samples_the_shifted_gaussian():
    a = torch.tensor([1.0, -0.5])
    sigma = 0.9
    prior = EnergyPrior(2, f=lambda u: u @ a, sigma=sigma)
    x = prior.sample(20000, generator=gen(5))
    # p(z) ∝ exp(a.z) N(0, sigma² I) = N(sigma² a, sigma² I); ULA's mean is unbiased here.
    mean, var = ula_gaussian_moments(0.0, sigma**2, sigma**2 * a, sigma, 0.4, 60)
    assert torch.allclose(mean, sigma**2 * a, atol=0.01)
    assert torch.allclose(x.mean(0), mean, atol=0.03)
    assert torch.allclose(x.var(0), torch.full((2,), var), atol=0.05)


def test_energy_prior_sampling_replays_and_leaves_parameter_grads_alone():
    prior = EnergyPrior(3, hidden=8)
    a = prior.sample(16, generator=gen(6))
    b, info = prior.sample(16, generator=gen(6), return_info=True)
    assert torch.equal(a, b) and info["energy"].shape == (16,)
    assert not a.requires_grad
    assert all(p.grad is None for p in prior.parameters())
    u0 = torch.zeros(5, 3)
    c = prior.sample(5, u0=u0, schedule=LangevinSchedule(0, 0.1))
    assert torch.equal(c, u0)


def test_contrastive_loss_is_the_f_gap_and_its_gradient_raises_f_on_posterior_samples():
    prior = EnergyPrior(2, hidden=16)
    post, pri = torch.randn(32, 2, generator=gen(7)) + 2.0, torch.randn(32, 2, generator=gen(8))
    loss = prior.contrastive_loss(post, pri)
    assert torch.allclose(loss, prior.f(pri).mean() - prior.f(post).mean())
    opt = torch.optim.SGD(prior.parameters(), lr=1e-2)
    gap = (prior.f(post).mean() - prior.f(pri).mean()).item()
    loss.backward()
    opt.step()
    assert (prior.f(post).mean() - prior.f(pri).mean()).item() > gap


def test_energy_prior_learns_a_two_mode_latent_law():
    """Posterior samples from 0.5 N(-2, 0.3²) + 0.5 N(2, 0.3²); prior samples by the default
    short-run Langevin from N(0, 1); f learned by the contrastive loss. The learned prior's
    samples must put most of their mass near both modes and almost none in between, where the
    base N(0, 1) puts 45%. Exact posterior samples stand in for inference here; the end-to-end
    version (decoder, posterior and prior Langevin) is in test_lightning_lebm.py."""
    torch.manual_seed(0)
    g = gen(0)

    def posterior(n):
        sign = torch.randint(0, 2, (n, 1), generator=g) * 2 - 1
        return 2.0 * sign + 0.3 * torch.randn(n, 1, generator=g)

    def masses(u):
        near = lambda c: ((u - c).abs() < 0.6).float().mean().item()  # noqa: E731
        return near(2.0), near(-2.0), near(0.0)

    prior = EnergyPrior(1, hidden=64)
    right0, left0, mid0 = masses(prior.sample(4000, generator=g))
    assert right0 < 0.15 and left0 < 0.15 and mid0 > 0.3  # untrained: close to N(0, 1)
    opt = torch.optim.Adam(prior.parameters(), lr=1e-3, betas=(0.5, 0.999))  # LEBM's betas
    for _ in range(150):
        loss = prior.contrastive_loss(posterior(128), prior.sample(128, generator=g))
        opt.zero_grad()
        loss.backward()
        opt.step()
    right, left, mid = masses(prior.sample(4000, generator=g))
    # The target holds 0.477 within 0.6 of each mode and ~0 within 0.6 of 0.
    assert right > 0.3 and left > 0.3, (right, left)
    assert mid < 0.05, mid


# ---- UNet prior ------------------------------------------------------------------------------


def test_unet_prior_shapes_energy_and_a_differentiable_non_identity_transform():
    prior = UNetPrior(n_latent=3, dim=32)
    z0 = prior.sample(4, generator=gen(9))
    assert z0.shape == (4, 3, 32) and prior.shape == (3, 32)
    assert torch.allclose(prior.energy(z0), z0.flatten(1).square().sum(1) / 2)
    assert torch.allclose(prior.log_prob(z0), -prior.energy(z0) - 48 * math.log(2 * math.pi))
    z0.requires_grad_(True)
    z = prior.transform(z0)
    assert z.shape == z0.shape
    assert (z - z0).abs().mean() > 0.1  # not the identity at init
    (gz,) = torch.autograd.grad(z.square().sum(), z0)
    assert torch.isfinite(gz).all() and gz.abs().sum() > 0
    params = [p for p in prior.parameters() if p.requires_grad]
    grads = torch.autograd.grad(prior.transform(z0.detach()).square().sum(), params)
    assert all(torch.isfinite(g).all() for g in grads) and sum(g.abs().sum() for g in grads) > 0


def test_unet_prior_transform_acts_on_each_latent_vector_alone():
    prior = UNetPrior(n_latent=2, dim=16, base_width=8, multipliers=(1, 2))
    z0 = torch.randn(3, 2, 16, generator=gen(10))
    z = prior.transform(z0)
    z0b = z0.clone()
    z0b[:, 1] += 1.0
    zb = prior.transform(z0b)
    assert torch.allclose(z[:, 0], zb[:, 0]) and not torch.allclose(z[:, 1], zb[:, 1])


def test_unet_prior_transform_passes_a_finite_difference_check():
    prior = UNetPrior(n_latent=1, dim=8, base_width=8, multipliers=(1, 2)).double()
    z0 = torch.randn(2, 1, 8, generator=gen(11), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(prior.transform, (z0,), eps=1e-6, atol=1e-5)


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: GaussianPrior(0), "shape"),
        (lambda: GaussianPrior((2, -1)), "shape"),
        (lambda: GaussianPrior(2, sigma=0.0), "sigma"),
        (lambda: EnergyPrior(2, f=3), "f"),
        (lambda: EnergyPrior(2, hidden=0), "hidden"),
        (lambda: EnergyPrior(2, schedule=(60, 0.4)), "schedule"),
        (lambda: UNetPrior(2, 30), "dim"),
        (lambda: UNetPrior(2, 32, base_width=12), "base_width"),
    ],
)
def test_bad_constructor_arguments_name_themselves(build, name):
    with pytest.raises(ValueError, match=name):
        build()


def test_bad_call_arguments_name_themselves():
    prior = EnergyPrior(3, hidden=4)
    with pytest.raises(ValueError, match="u "):
        prior.energy(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="n="):
        prior.sample(0)
    with pytest.raises(ValueError, match="u0"):
        prior.sample(2, u0=torch.zeros(3, 3))
    with pytest.raises(ValueError, match="u_prior"):
        prior.contrastive_loss(torch.zeros(2, 3), torch.zeros(2, 2))
    bad = EnergyPrior(3, f=nn.Linear(3, 2))
    with pytest.raises(ValueError, match="f\\(u\\)"):
        bad.energy(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="generator"):
        GaussianPrior(2).sample(2, generator=5)
