"""The sampler against exact answers: a Gaussian conditional, Tweedie on a Gaussian target,
guidance identities and inpainting."""

import math

import pytest
import torch

from latent_ebm.cdrl import CDRLModule, NoiseSchedule
from latent_ebm.cdrl.model import Draws
from latent_ebm.cdrl.sampler import guided, revise, tweedie_denoise
from latent_ebm.core.samplers import LangevinSchedule


def _gauss_logp(x, mu, var):
    return -(x - mu).square().sum(1) / (2 * var) - x.shape[1] / 2 * math.log(2 * math.pi * var)


@pytest.mark.parametrize("level", [3, 6])
def test_langevin_samples_exact_gaussian_conditional(level):
    """EBM replaced by the exact log-density of N(mu, tau2 I) for x~: the chain must sample
    p(x~ | x_t) ∝ N(x~; mu, tau2) N(x_t; x~, sigma_t^2) (at the final level: N(mu, tau2))."""
    sched = NoiseSchedule(6, step_coeff=2e-4)
    n = 4000
    t = torch.full((n,), level)
    coef = sched.coefficients(t)
    mu, tau2 = torch.tensor([0.5, -1.0]), 0.5
    x_t = torch.tensor([1.0, 1.0]).expand(n, 2)

    def net(x):  # network output = s_t^2 * log-density (the step-size parameterisation)
        return coef.step_sq * _gauss_logp(x, mu, tau2)

    x0 = torch.randn(n, 2)
    x = revise(net, x0, x_t, coef, sched.step_coeff, LangevinSchedule(400, 1.0),
               generator=torch.Generator().manual_seed(0))
    if level == 6:
        mean, var = mu, torch.full((2,), tau2)
    else:
        s2 = coef.beta[0]
        prec = 1 / tau2 + 1 / s2
        mean, var = (mu / tau2 + x_t[0] / s2) / prec, torch.full((2,), 1 / prec)
    torch.testing.assert_close(x.mean(0), mean, atol=4 * math.sqrt(var[0] / n) + 0.01, rtol=0)
    torch.testing.assert_close(x.var(0), var, rtol=0.08, atol=0)


def test_tweedie_returns_gaussian_posterior_mean():
    """x ~ N(m, v I); z = sqrt(a0) x + sqrt(1 - a0) eps; with the exact marginal score the final
    step must return E[x | z] = m + sqrt(a0) v / (a0 v + 1 - a0) (z - sqrt(a0) m)."""
    sched = NoiseSchedule(6, logsnr_min=-5.0, logsnr_max=1.0)  # a0 = 0.73: a visible correction
    a0 = sched.alpha_0
    n = 64
    coef = sched.coefficients(torch.ones(n, dtype=torch.long))
    m, v = torch.tensor([1.0, -2.0, 0.5]), 0.3
    marg_var = a0 * v + 1 - a0
    z = math.sqrt(a0) * m + math.sqrt(marg_var) * torch.randn(n, 3)
    scale = coef.scale[0]

    def net(xt):  # log p(x~) of x~ = m_1 z, times s_1^2
        return coef.step_sq * _gauss_logp(xt, scale * math.sqrt(a0) * m, scale**2 * marg_var)

    out = tweedie_denoise(net, scale * z, coef, a0)
    want = m + math.sqrt(a0) * v / marg_var * (z - math.sqrt(a0) * m)
    torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-4)


def test_guidance_identities_and_composition():
    def net(x, ls, y):  # distinct, known output per label
        return x.sum(1) * 0 + (y.float() + 1) ** 2

    x, ls = torch.zeros(3, 2), torch.zeros(3)
    y = torch.tensor([0, 1, 2])
    null = 5
    torch.testing.assert_close(guided(net, x, ls, y, 0.0, null), torch.full((3,), 36.0))
    torch.testing.assert_close(guided(net, x, ls, y, 1.0, null), (y.float() + 1) ** 2)
    g = guided(net, x, ls, y, 2.0, null)
    torch.testing.assert_close(g, 36 + 2 * ((y.float() + 1) ** 2 - 36))
    pair = torch.tensor([[0, 1], [1, 2], [2, 0]])
    comp = guided(net, x, ls, pair, 1.0, null)  # f(y1) + f(y2) - f(null)
    f = (pair.float() + 1) ** 2
    torch.testing.assert_close(comp, f[:, 0] + f[:, 1] - 36)


def _cond_model():
    return CDRLModule(data_shape=(1, 8, 8), num_classes=3, ebm_width=8, ebm_mult=(1, 2), init_width=8,
                      init_mult=(1, 2), revision={"n_steps": 2})


def test_guidance_zero_equals_unconditional_model():
    m = _cond_model()
    y = torch.tensor([0, 1, 2, 1])
    a = m.sample(4, labels=y, guidance=0.0, generator=torch.Generator().manual_seed(3))
    b = m.sample(4, generator=torch.Generator().manual_seed(3))  # null label: unconditional
    c = m.sample(4, labels=y, guidance=1.0, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_inpainting_keeps_known_pixels():
    m = _cond_model()
    known = torch.rand(4, 1, 8, 8) * 2 - 1
    mask = torch.zeros(4, 1, 8, 8)
    mask[..., :4, :] = 1
    out = m.sample(4, known=known, mask=mask, labels=torch.tensor([0, 1, 2, 0]), guidance=2.0)
    assert torch.equal(out[mask.bool()], known[mask.bool()])
    assert not torch.allclose(out[~mask.bool()], known[~mask.bool()])
    assert torch.isfinite(out).all()


def test_clear_errors():
    unc = CDRLModule(data_shape=(1, 8, 8), ebm_width=8, ebm_mult=(1, 2), init_width=8, init_mult=(1, 2))
    with pytest.raises(ValueError, match="labels=.*unconditional"):
        unc.sample(2, labels=torch.tensor([0, 1]), guidance=2.0)
    with pytest.raises(ValueError, match="guidance=2.0.*unconditional"):
        unc.sample(2, guidance=2.0)
    with pytest.raises(ValueError, match="n_steps=0"):
        unc.sample(2, n_steps=0)
    with pytest.raises(ValueError, match="n=0"):
        unc.sample(0)
    with pytest.raises(ValueError, match="revision.n_steps=0"):
        CDRLModule(data_shape=(2,), revision={"n_steps": 0})
    coef = NoiseSchedule().coefficients(torch.tensor([1]))
    with pytest.raises(ValueError, match="n_steps=0"):
        revise(lambda x: x.sum(1), torch.zeros(1, 2), torch.zeros(1, 2), coef, 2e-4, LangevinSchedule(0, 1.0))
    with pytest.raises(ValueError, match=r"x.shape=\(2, 3, 32, 32\) is not allowed; this model expects \(B, 1, 8, 8\)"):
        unc.condition({"x": torch.zeros(2, 3, 32, 32), "index": torch.arange(2)})
    with pytest.raises(ValueError, match="known.shape="):
        unc.sample(2, known=torch.zeros(2, 1, 7, 7), mask=torch.zeros(2, 1, 7, 7))
    with pytest.raises(ValueError, match="known and mask"):
        unc.sample(2, known=torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="labels must lie"):
        _cond_model().sample(2, labels=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="data_shape"):
        CDRLModule(data_shape=(1, 8))


def test_energy_hook_is_the_conditional_energy():
    """CDRLModule.energy(x~, cond) = -g/s_t^2 + ||x~ - x_t||^2 / (2 sigma_t^2): with g the exact
    s_t^2-scaled Gaussian log-density, energy differences equal -log p(x~ | x_t) differences."""
    m = CDRLModule(data_shape=(2,), ebm_width=8, init_width=8, ebm_mult=(1,), init_mult=(1,))
    t = torch.tensor([2, 2, 6, 6])
    coef = m.coefficients(t)
    mu, tau2 = torch.tensor([0.3, -0.2]), 0.7
    m.ebm.forward = lambda x, ls, y=None: coef.step_sq * _gauss_logp(x, mu, tau2)
    x_t = torch.randn(4, 2)
    cond = Draws(t=t, y=None, coef=coef, x_t=x_t, x_prev=x_t, init_eps=None)
    a, b = torch.randn(4, 2), torch.randn(4, 2)
    tether = (1 - coef.final) / coef.beta
    logp = lambda x: _gauss_logp(x, mu, tau2) - (x - x_t).square().sum(1) / 2 * tether  # noqa: E731
    got = m.energy(a, cond) - m.energy(b, cond)
    torch.testing.assert_close(got, -(logp(a) - logp(b)), rtol=1e-4, atol=1e-4)


def test_one_step_draws_in_order_and_fills_the_hooks():
    """condition draws levels, data noise and initializer noise once; data/propose/energy_loss/
    initializer_loss read them; DRL proposes x_t and has no initializer loss."""
    x = torch.randn(6, 2)
    batch = {"x": x, "y": torch.zeros(6, dtype=torch.long), "index": torch.arange(6)}
    for use_init in (True, False):
        m = CDRLModule(data_shape=(2,), ebm_width=8, init_width=8, ebm_mult=(1,), init_mult=(1,),
                       use_initializer=use_init, revision={"n_steps": 2}, seed=1)
        cond = m.condition(batch)
        assert cond.t.min() >= 1 and cond.t.max() <= 6 and cond.y is None
        assert (cond.init_eps is not None) == use_init
        # variance reduction: x_t and x_{t-1} share eps
        a_t, a_s = torch.sigmoid(cond.coef.logsnr_t)[:, None], torch.sigmoid(cond.coef.logsnr_s)[:, None]
        eps = (cond.x_t - a_t.sqrt() * x) / (1 - a_t).sqrt()
        torch.testing.assert_close(cond.x_prev, a_s.sqrt() * x + (1 - a_s).sqrt() * eps, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(m.data(batch, cond), cond.coef.scale[:, None] * cond.x_prev)
        prop = m.propose(batch, cond)
        if not use_init:
            assert prop is cond.x_t and m.initializer_loss(prop, prop, cond) is None
            assert list(m.initializer_parameters()) == [] and len(m.optimizer_groups()) == 1
        rev = m.revise(prop, cond)
        assert rev.shape == x.shape and m.ebm.training  # the chain's eval mode is undone
        loss, logs = m.energy_loss(m.data(batch, cond), rev, cond)
        assert set(logs) == {"train/g_pos", "train/g_neg"} and loss.requires_grad
