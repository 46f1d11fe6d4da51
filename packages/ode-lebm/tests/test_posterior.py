"""Posterior Langevin through the ODE solve against the analytic posterior of a linear-Gaussian
model: dz/dt = A z, x_i = C z(t_i) + N(0, σ²I), z0 ~ N(0, σ0² I)."""

import torch
import torch.nn as nn

from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.ode_lebm import ODELEBMModule


class Linear(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.register_buffer("a", a)
        self.nfe = 0

    def forward(self, t, z):
        return z @ self.a.T


A = torch.tensor([[-0.1, 1.0], [-1.0, -0.1]])  # damped rotation
C = torch.tensor([[1.0, 0.0]])                  # observe the first coordinate only


def linear_model(sigma: float, sigma0: float, **kw) -> ODELEBMModule:
    model = ODELEBMModule(obs_dim=1, latent_dim=2, prior="gaussian", obs_sigma=sigma, prior_sigma=sigma0, **kw)
    model.dynamics.func = Linear(A)
    model.emission = nn.Linear(2, 1, bias=False)
    model.emission.weight.data.copy_(C)
    return model


def test_langevin_matches_linear_gaussian_posterior():
    torch.manual_seed(0)
    sigma, sigma0 = 0.5, 1.0
    a, c = A, C
    model = linear_model(sigma, sigma0)
    t = torch.linspace(0, 2.0, 9)
    mask = torch.tensor([[1.0, 0, 1, 1, 0, 1, 0, 0, 1]])  # irregularly observed

    # analytic posterior: x = M z0 + noise with M_i = C expm(A t_i) (observed rows)
    m_rows = torch.stack([c @ torch.linalg.matrix_exp(a * ti) for ti in t])[:, 0]  # (T, 2)
    m = m_rows[mask[0].bool()]
    z_true = torch.tensor([0.8, -0.5])
    x_obs = m @ z_true + sigma * torch.randn(m.shape[0])
    prec = torch.eye(2) / sigma0**2 + m.T @ m / sigma**2
    cov = torch.linalg.inv(prec)
    mean = cov @ m.T @ x_obs / sigma**2

    x = torch.zeros(1, 9, 1)
    x[0, mask[0].bool(), 0] = x_obs
    n = 3000
    xs, ms = x.expand(n, -1, -1), mask.expand(n, -1)
    # ULA's stationary bias is O(step² · precision) ≈ 1% here
    u = model.infer({"x": xs, "t": t, "mask": ms}, schedule=LangevinSchedule(1000, 0.1), generator=torch.Generator().manual_seed(1))
    emp_mean, emp_cov = u.mean(0), torch.cov(u.T)
    std = cov.diagonal().sqrt()
    assert torch.all((emp_mean - mean).abs() < 0.1 * std), (emp_mean, mean, std)
    assert torch.allclose(emp_cov, cov, rtol=0.12, atol=0.03 * std.max() ** 2), (emp_cov, cov)


def test_prediction_is_the_analytic_posterior_predictive_mean():
    """analyse() with eval_prediction="mean" averages the decoded chains: on the linear-Gaussian
    model it lands on E[x(t_q) | x_obs] = C expm(A t_q) μ_post, extrapolated past the window."""
    torch.manual_seed(0)
    sigma, sigma0, k = 0.5, 1.0, 400
    model = linear_model(sigma, sigma0, eval_posterior=LangevinSchedule(600, 0.1), eval_chains=k)
    t = torch.linspace(0, 4.0, 17)
    mask = torch.zeros(1, 17)
    mask[0, [0, 2, 3, 6, 8]] = 1.0  # observed inside [0, 2]; [2.25, 4] is extrapolation
    rows = torch.stack([C @ torch.linalg.matrix_exp(A * ti) for ti in t])[:, 0]  # (T, 2)
    m = rows[mask[0].bool()]
    x_obs = m @ torch.tensor([0.8, -0.5]) + sigma * torch.randn(m.shape[0])
    cov = torch.linalg.inv(torch.eye(2) / sigma0**2 + m.T @ m / sigma**2)
    mean = cov @ m.T @ x_obs / sigma**2
    x = torch.zeros(1, 17, 1)
    x[0, mask[0].bool(), 0] = x_obs

    pred = model.analyse({"x": x, "t": t, "mask": mask})["pred"][0, :, 0]
    expected = rows @ mean
    pred_std = (rows @ cov * rows).sum(1).sqrt()  # posterior std of C z(t) at each t
    # K chains: the Monte Carlo error of the mean is pred_std / sqrt(K); allow 4 of those + ULA bias
    assert torch.all((pred - expected).abs() < 4 * pred_std / k**0.5 + 0.02 * pred_std), (pred, expected)


class Drift(nn.Module):
    nfe = 0

    def forward(self, t, z):
        return torch.ones_like(z)  # dz/dt = 1: z(t) = z0 + t


class Square(nn.Module):
    def forward(self, z):
        return z.pow(2)  # x = z²: observing x(0) leaves the sign of z0 open


def test_prediction_averages_over_both_posterior_modes():
    """x(0) = z0² observed, z(t) = z0 + t: the posterior has modes at z0 ≈ ±1 whose futures
    part ((1 + t)² vs (1 - t)²). The predictive mean must average them (the MSE-optimal
    forecast, from a grid integral of the exact posterior); one decoded chain ("best") cannot."""
    sigma, k = 0.3, 400
    t = torch.linspace(0, 2.0, 5)
    mask = torch.tensor([[1.0, 0, 0, 0, 0]])
    x = torch.zeros(1, 5, 1)
    x[0, 0, 0] = 1.0
    grid = torch.linspace(-4, 4, 8001, dtype=torch.float64)
    log_post = -(1.0 - grid**2) ** 2 / (2 * sigma**2) - grid**2 / 2
    w = (log_post - log_post.max()).exp()
    w = w / w.sum()
    expected = torch.stack([(w * (grid + ti) ** 2).sum() for ti in t.double()]).float()
    errors = {}
    for mode in ("mean", "best"):
        model = ODELEBMModule(obs_dim=1, latent_dim=1, prior="gaussian", obs_sigma=sigma,
                              eval_posterior=LangevinSchedule(300, 0.1), eval_chains=k, eval_prediction=mode)
        model.dynamics.func, model.emission = Drift(), Square()
        pred = model.analyse({"x": x, "t": t, "mask": mask})["pred"][0, :, 0]
        errors[mode] = (pred - expected).abs().max()
    # chains split ~binomially between the modes: |mean error| ≈ 2·t·|E_K[z0]| ≲ 2·2·3/sqrt(400)
    assert errors["mean"] < 0.6, (errors, expected)
    assert errors["best"] > 2.0, (errors, expected)
