"""Langevin samplers against known answers: Gaussian moments (exact for ULA's discretisation),
mixture weights (MALA exact, ULA biased), STANLEY's stationary law, and the API's promises."""

import math

import pytest
import torch
from scipy import integrate
from scipy.stats import norm
from torch import nn

from latent_ebm.core.samplers import (
    DivergenceError,
    LangevinSchedule,
    langevin,
    langevin_from_schedule,
)

MU = torch.tensor([1.0, -1.0], dtype=torch.float64)
SIGMA = torch.tensor([[1.0, 0.8], [0.8, 1.0]], dtype=torch.float64)  # eigenvalues 1.8, 0.2
PREC = torch.linalg.inv(SIGMA)


def gaussian_energy(x):
    d = x - MU.to(x.dtype)
    return 0.5 * ((d @ PREC.to(x.dtype)) * d).sum(dim=1)


def start(n, dim=1, seed=0, scale=1.0):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)) * scale


def moments(x):
    x = x.double()
    return x.mean(0), torch.cov(x.T)


# ---- known moments ---------------------------------------------------------------------------

def test_ula_matches_its_exact_discretised_gaussian_and_the_truth():
    s = 0.35
    x = langevin(gaussian_energy, start(6000, 2), 300, s, generator=0)
    mean, cov = moments(x)
    # ULA on a Gaussian is an AR(1) with stationary covariance Sigma (I - h A / 4)^-1, h = s^2.
    exact = SIGMA @ torch.linalg.inv(torch.eye(2, dtype=torch.float64) - s**2 * PREC / 4)
    assert torch.allclose(mean, MU, atol=0.06)
    assert torch.allclose(cov, exact, atol=0.08)
    assert torch.allclose(cov, SIGMA, atol=0.15)


def test_mala_matches_gaussian_moments_and_reports_acceptance():
    x, info = langevin(gaussian_energy, start(6000, 2), 300, 0.5, method="mala", generator=1,
                       return_info=True)
    mean, cov = moments(x)
    assert torch.allclose(mean, MU, atol=0.06)
    assert torch.allclose(cov, SIGMA, atol=0.08)
    rate = info["acceptance_rate"]
    assert isinstance(rate, torch.Tensor) and rate.dim() == 0
    assert 0.6 < rate.item() < 1.0


def _mixture():
    w1, m1, s1, m2, s2 = 0.5, -1.5, 0.4, 1.5, 1.0

    def energy(x):
        x = x[:, 0]
        l1 = math.log(w1) - 0.5 * ((x - m1) / s1) ** 2 - math.log(s1)
        l2 = math.log(1 - w1) - 0.5 * ((x - m2) / s2) ** 2 - math.log(s2)
        return -torch.logaddexp(l1, l2)

    p_left = w1 * norm.cdf(-m1 / s1) + (1 - w1) * norm.cdf(-m2 / s2)  # P(x < 0), exact
    return energy, p_left


def test_mala_gets_mixture_weights_where_large_step_ula_is_biased():
    energy, p_left = _mixture()
    x0 = start(4000, 1, seed=2, scale=2.0)
    x_mala = langevin(energy, x0, 300, 0.6, method="mala", generator=3)
    x_ula = langevin(energy, x0, 300, 0.6, method="ula", generator=3)
    left_mala = (x_mala < 0).double().mean().item()
    left_ula = (x_ula < 0).double().mean().item()
    # Standard error of a fraction from 4000 chains is ~0.008.
    assert left_mala == pytest.approx(p_left, abs=0.03)
    assert left_ula < p_left - 0.06  # the narrow mode loses mass under a large ULA step


def _stanley_variance(threshold):
    """Var of the continuous-time limit of the anisotropic chain on E = x^2/2: with diffusion
    c(x) = th / max(th, |x|) and drift -c E'/2 the stationary density is exp(-E) / c(x)."""
    def f(x):
        return math.exp(-x * x / 2) * max(threshold, abs(x)) / threshold

    z = integrate.quad(f, -12, 12, points=[-threshold, threshold])[0]
    return integrate.quad(lambda x: x * x * f(x), -12, 12, points=[-threshold, threshold])[0] / z


def test_anisotropic_small_step_moments():
    # Threshold above every gradient seen: s_i = s, so the Gaussian's moments come out.
    x = langevin(gaussian_energy, start(6000, 2), 400, 0.25, method="anisotropic",
                 threshold=50.0, generator=4)
    mean, cov = moments(x)
    assert torch.allclose(mean, MU, atol=0.06)
    assert torch.allclose(cov, SIGMA, atol=0.08)
    # Active threshold: STANLEY's chain has the law exp(-E) max(th, |g|) / th (no Ito
    # correction), variance 1.415 for th = 1 on N(0, 1), not 1.
    x = langevin(lambda v: 0.5 * v.square().sum(1), start(8000), 530, 0.15,
                 method="anisotropic", threshold=1.0, generator=5)
    expected = _stanley_variance(1.0)
    assert expected == pytest.approx(1.415, abs=0.01)
    assert x.double().var().item() == pytest.approx(expected, abs=0.07)


def test_anisotropic_step_is_smaller_where_gradient_exceeds_threshold():
    s, th = 0.2, 1.0
    x0 = torch.tensor([[0.5, 4.0]]).repeat(20000, 1)  # E = ||x||^2 / 2, so g = x
    energy = lambda v: 0.5 * v.square().sum(1)  # noqa: E731
    drift = langevin(energy, x0, 1, s, method="anisotropic", threshold=th, noise_scale=0.0)
    s2 = s**2 * th / torch.clamp(x0[0].abs(), min=th)  # (s^2, s^2 / 4)
    assert torch.allclose(drift[0] - x0[0], -0.5 * s2 * x0[0], rtol=1e-5)
    noisy = langevin(energy, x0, 1, s, method="anisotropic", threshold=th, generator=6)
    var = noisy.double().var(0)
    assert var[0].item() == pytest.approx(s**2, rel=0.05)
    assert var[1].item() == pytest.approx(s**2 / 4, rel=0.05)


# ---- API promises ----------------------------------------------------------------------------

class MLPEnergy(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


@pytest.mark.parametrize("method", ["ula", "mala", "anisotropic"])
def test_parameter_grads_untouched_and_no_grad_safe(method):
    torch.manual_seed(0)
    model = MLPEnergy()
    marker = torch.full_like(model.net[0].weight, 7.0)
    model.net[0].weight.grad = marker.clone()
    x0 = torch.randn(8, 3)
    x0_copy = x0.clone()
    out = langevin(model, x0, 5, 0.1, method=method, generator=11)
    assert torch.equal(model.net[0].weight.grad, marker)
    assert model.net[2].weight.grad is None
    assert not out.requires_grad and torch.equal(x0, x0_copy)
    with torch.no_grad():
        out_ng = langevin(model, x0, 5, 0.1, method=method, generator=11)
    with torch.inference_mode():
        out_inf = langevin(model, x0, 5, 0.1, method=method, generator=11)
    assert torch.equal(out, out_ng) and torch.equal(out, out_inf)


@pytest.mark.parametrize("method", ["ula", "mala", "anisotropic"])
def test_same_generator_state_replays_the_chain(method):
    x0 = start(16, 2)
    a = langevin(gaussian_energy, x0, 10, 0.3, method=method,
                 generator=torch.Generator().manual_seed(5))
    b = langevin(gaussian_energy, x0, 10, 0.3, method=method,
                 generator=torch.Generator().manual_seed(5))
    c = langevin(gaussian_energy, x0, 10, 0.3, method=method,
                 generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_callback_per_step_and_info():
    records = []
    x, info = langevin(gaussian_energy, start(32, 2), 7, 0.3, method="mala", generator=0,
                       callback=lambda r: records.append({k: v for k, v in r.items() if k != "x"}),
                       return_info=True)
    assert [r["step"] for r in records] == list(range(7))
    assert all(r["energy"].shape == (32,) and r["grad_norm"].shape == (32,) for r in records)
    assert all(r["accepted"].dtype == torch.bool for r in records)
    accepted = torch.stack([r["accepted"] for r in records]).double().mean()
    assert info["acceptance_rate"].item() == pytest.approx(accepted.item(), abs=1e-6)
    assert torch.allclose(info["energy"], gaussian_energy(x), atol=1e-5)
    grad = ((x.double() - MU) @ PREC).float()
    assert torch.allclose(info["grad_norm"], grad.norm(dim=1), atol=1e-4)
    seen = []
    langevin(gaussian_energy, start(4, 2), 3, 0.3, callback=lambda r: seen.append(set(r)))
    assert seen == [{"step", "x", "energy", "grad_norm"}] * 3


def test_clip_grad_bounds_each_samples_gradient():
    s, clip = 0.1, 2.0
    x0 = torch.tensor([[1.0, 1.0], [1e-5, 0.0]])  # gradients 2e4 * x: norms 2.8e4 and 0.2
    out = langevin(lambda v: 1e4 * v.square().sum(1), x0, 1, s, noise_scale=0.0, clip_grad=clip)
    step = (out - x0).norm(dim=1)
    assert step[0].item() == pytest.approx(0.5 * s**2 * clip, rel=1e-5)  # clipped
    assert step[1].item() == pytest.approx(0.5 * s**2 * 0.2, rel=1e-3)  # |g| <= clip: untouched


def test_schedule_is_a_thin_convenience():
    sched = LangevinSchedule(n_steps=6, step_size=0.2, method="anisotropic", threshold=0.5)
    a = langevin_from_schedule(gaussian_energy, start(8, 2), sched, generator=3)
    b = langevin(gaussian_energy, start(8, 2), 6, 0.2, method="anisotropic", threshold=0.5,
                 generator=3)
    assert torch.equal(a, b)
    with pytest.raises(AttributeError):
        sched.n_steps = 3  # frozen


# ---- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"step_size": -0.1}, "step_size"),
        ({"step_size": float("nan")}, "step_size"),
        ({"step_size": float("inf")}, "step_size"),
        ({"n_steps": -1}, "n_steps"),
        ({"n_steps": 2.5}, "n_steps"),
        ({"noise_scale": -1.0}, "noise_scale"),
        ({"noise_scale": float("nan")}, "noise_scale"),
        ({"clip_grad": 0.0}, "clip_grad"),
        ({"clip_grad": float("inf")}, "clip_grad"),
        ({"threshold": 0.0, "method": "anisotropic"}, "threshold"),
        ({"method": "mala", "noise_scale": 0.0}, "noise_scale"),
    ],
)
def test_bad_settings_name_the_argument(kwargs, name):
    args = {"n_steps": 3, "step_size": 0.1, **kwargs}
    with pytest.raises(ValueError, match=name):
        langevin(gaussian_energy, start(4, 2), **args)
    with pytest.raises(ValueError, match=name):
        LangevinSchedule(**args)


def test_unknown_method_lists_valid_ones():
    with pytest.raises(ValueError, match="'ula', 'mala', 'anisotropic'"):
        langevin(gaussian_energy, start(4, 2), 3, 0.1, method="hmc")


def test_wrong_energy_shape_is_named():
    with pytest.raises(ValueError, match=r"\(4, 1\)"):
        langevin(lambda v: v.sum(1, keepdim=True), start(4, 2), 3, 0.1)


@pytest.mark.parametrize("method", ["ula", "mala", "anisotropic"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_divergence_names_the_step(method, bad):
    calls = []

    def energy(v):
        calls.append(None)
        e = 0.5 * v.square().sum(1)
        return e * bad if len(calls) == 4 else e  # the 4th evaluation goes non-finite

    # ULA's 4th evaluation is step 3; MALA evaluates x0 first, so its 4th is step 2's proposal.
    step = 2 if method == "mala" else 3
    with pytest.raises(DivergenceError, match=f"step {step} of 6"):
        langevin(energy, start(4, 2), 6, 0.1, method=method)


# --- STANLEY's anisotropic step (Karimi, Xie, Li 2023): gamma = th / max(th, |g|) -----------------


def _quartic_energy(x):
    return 0.5 * x.square().sum(dim=1) + 0.25 * x[:, 0] ** 4


class _Linear:
    """E(x) = -<w, x> per sample: grad E = -w everywhere (f = -E has gradient w)."""

    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return -(x * self.w).flatten(1).sum(1)


def test_anisotropic_with_an_infinite_threshold_is_ula_bit_for_bit():
    x0 = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    a = langevin(gaussian_energy, x0, 5, 1.0, method="anisotropic", threshold=1e30, generator=7)
    b = langevin(gaussian_energy, x0, 5, 1.0, method="ula", generator=7)
    assert torch.equal(a, b)


@pytest.mark.parametrize("granularity", ["element", "pixel", "sample"])
def test_anisotropic_drift_is_truncated_at_half_the_threshold(granularity):
    """Noise off, step 1: no coordinate moves more than th/2 per step (the paper's truncated drift)."""
    w = torch.tensor([[[[0.01, 5.0], [-3.0, 0.2]]] * 3]) * torch.tensor([1.0, 2.0, -1.0]).view(1, 3, 1, 1)
    x0 = torch.zeros(2, 3, 2, 2)
    th = 0.05
    x = langevin(_Linear(w), x0, 1, 1.0, method="anisotropic", threshold=th, noise_scale=0.0,
                 granularity=granularity, generator=0)
    assert x.abs().max() <= th / 2 + 1e-7


def test_anisotropic_granularities_match_a_hand_computed_2x2x3_example():
    """One step, noise off, s = 1, th = 1, on one (3, 2, 2) image whose f-gradient w is known:
    element: gamma_i = 1/max(1, |w_i|); pixel: one gamma per pixel from the norm over the 3
    channels; sample: one gamma from the norm over all 12 values. x moves by (gamma/2) w."""
    w = torch.tensor([[[0.5, 2.0], [0.0, 4.0]],      # channel 0
                      [[0.5, 0.0], [3.0, 0.0]],      # channel 1
                      [[0.0, 0.0], [4.0, 3.0]]])[None]  # channel 2
    run = lambda g: langevin(_Linear(w), torch.zeros(1, 3, 2, 2), 1, 1.0, method="anisotropic",  # noqa: E731
                             threshold=1.0, noise_scale=0.0, granularity=g, generator=0)
    # element: |w| <= 1 moves w/2, else sign(w)/2
    torch.testing.assert_close(run("element"), 0.5 * w.clamp(-1, 1))
    # pixel norms: (0,0): sqrt(.5) ~ .707 -> gamma 1; (0,1): 2 -> 1/2; (1,0): 5 -> 1/5; (1,1): 5 -> 1/5
    gamma = torch.tensor([[1.0, 0.5], [0.2, 0.2]])
    torch.testing.assert_close(run("pixel"), 0.5 * gamma * w)
    # the whole sample: sqrt(.25+4+16+.25+9+16+9) = sqrt(54.5)
    torch.testing.assert_close(run("sample"), 0.5 * w / 54.5**0.5)


def test_pixel_granularity_needs_channels():
    with pytest.raises(ValueError, match="granularity='pixel' needs x of shape"):
        langevin(_quartic_energy, torch.zeros(4, 3), 1, 0.1, method="anisotropic", granularity="pixel", generator=0)
    with pytest.raises(ValueError, match="granularity='row' is not allowed"):
        langevin(_quartic_energy, torch.zeros(4, 3), 1, 0.1, method="anisotropic", granularity="row")
