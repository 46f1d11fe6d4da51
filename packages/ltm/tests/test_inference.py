"""Fast learning (the core's DualRateModule under LTM's settings): the inner loop raises the ELBO,
and on the core's linear-Gaussian stand-in it reaches the analytic posterior (exact ELBO) and the
known fixed-eps optimum (LTM's sampled ELBO with one eps)."""

import dataclasses
import math

import torch

from latent_ebm.core.nn import gaussian_kl
from latent_ebm.core.testing.linear_gaussian import (
    LinearGaussian,
    LinearGaussianDualRate,
    fixed_eps_optimum,
)
from latent_ebm.ltm import LTMModule
from latent_ebm.ltm.model import FAST


def _tiny_ltm(**kw):
    torch.manual_seed(0)
    args = dict(vocab_size=17, d_model=16, n_layers=2, n_heads=2, seq_len=24, window=4, n_latents=4, fast={"steps": 4})
    return LTMModule(**{**args, **kw})


def _batch():
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 17, (4, 24), generator=g)


def _neg_elbo(model, x, steps):
    local = model.fit_local(x, steps, generator=torch.Generator().manual_seed(3))  # same init and eps
    nll, kl = model.elbo_terms(x, local)
    return (nll + kl).detach()


def test_inner_loop_increases_elbo_and_longer_is_better():
    model, x = _tiny_ltm(), _batch()
    start, short, long = (_neg_elbo(model, x, s) for s in (0, 4, 32))
    assert (short < start).all(), "every sequence's -ELBO must fall below its initial value"
    assert (long < short).all()
    assert long.mean() < short.mean() - 10.0


def test_inner_loop_leaves_decoder_grads_alone():
    model, x = _tiny_ltm(), _batch()
    model.fit_local(x, 3)
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())


def _ltm_fast(**override) -> dict:
    """LTM's own fast loop (eta 0.3 cosine to 0.03, paper init, AdamW wd 0.01), as the module holds it."""
    fast = _tiny_ltm().fast
    assert fast == dataclasses.replace(FAST, steps=4)
    return dataclasses.replace(fast, **override)


def test_ltm_inner_loop_reaches_the_analytic_posterior_mean_and_variance():
    """With the exact ELBO (closed-form E_q NLL) on x = W z + noise, W^T W diagonal, the optimum of a
    diagonal q is p(z | x) itself: after LTM's loop q's mean and variance are the posterior's."""
    lg = LinearGaussian.random(6, 2, 0.5, scales=(1.5, 0.7), orthogonal=True, seed=0)
    x, _ = lg.sample(64, seed=1)
    mean, cov = lg.posterior(x)  # (64, 2), (2, 2) diagonal: variances 0.10 and 0.34

    def fit(**override):
        module = LinearGaussianDualRate(data_dim=6, latent_dim=2, obs_sigma=0.5, expected_nll=True,
                                        fast=_ltm_fast(**override)).double()
        with torch.no_grad():
            module.W.copy_(lg.W)
        return module.fit_local(x, 300, generator=torch.Generator().manual_seed(0))

    local = fit(weight_decay=0.0)  # AdamW's decoupled decay would move the optimum
    torch.testing.assert_close(local.mu, mean, atol=1e-5, rtol=0)
    torch.testing.assert_close(local.logvar.exp(), cov.diag().expand_as(mean), atol=1e-5, rtol=0)
    # LTM's first-party weight decay 0.01 on (mu, log sigma^2) biases it a little, no more
    local = fit()
    torch.testing.assert_close(local.mu, mean, atol=1e-2, rtol=0)
    torch.testing.assert_close(local.logvar.exp(), cov.diag().expand_as(mean), atol=1e-2, rtol=0)
    assert (local.mu - mean).abs().max() > 1e-4


def test_ltm_inner_settings_reach_the_linear_gaussian_fixed_eps_optimum():
    """LTM's inner loop settings (eta 0.3 cosine to 0.03, paper init) on the core's stand-in:
    x = W z + noise with W^T W diagonal, whose fixed-eps ELBO optimum is known in closed form."""
    lg = LinearGaussian.random(6, 2, 0.5, scales=(1.5, 0.7), orthogonal=True, seed=0, dtype=torch.float32)
    module = LinearGaussianDualRate(data_dim=6, latent_dim=2, obs_sigma=0.5, fast=_ltm_fast(weight_decay=0.0))
    with torch.no_grad():
        module.W.copy_(lg.W)
    x, _ = lg.sample(8, seed=1)
    local = module.fit_local(x, 300, generator=torch.Generator().manual_seed(0))
    mu, s = fixed_eps_optimum(lg, x, local.eps)
    torch.testing.assert_close(local.mu, mu, atol=2e-2, rtol=0)
    torch.testing.assert_close((0.5 * local.logvar).exp(), s, atol=2e-2, rtol=0)


def test_kl_closed_form_matches_monte_carlo():
    torch.manual_seed(0)
    mu, logvar = torch.randn(2, 3), torch.randn(2, 3) * 0.5
    z = mu + torch.randn(200000, 2, 3) * (0.5 * logvar).exp()
    logq = (-0.5 * ((z - mu) ** 2 / logvar.exp() + logvar + math.log(2 * math.pi))).sum(-1)
    logp = (-0.5 * (z**2 + math.log(2 * math.pi))).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), (logq - logp).mean(0), atol=0.02, rtol=0)


def test_init_matches_paper():
    model = _tiny_ltm()
    local = model.init_local(torch.zeros(512, 24, dtype=torch.long), generator=torch.Generator().manual_seed(0))
    assert local.mu.shape == (512, 4, 16)
    assert abs(float(local.mu.std()) - 0.01) < 1e-3
    assert abs(float(local.logvar.mean()) + 5.0) < 0.01 and abs(float(local.logvar.std()) - 0.1) < 0.01
