"""Posterior Langevin through the ODE solve against the analytic posterior of a linear-Gaussian
model: dz/dt = A z, x_i = C z(t_i) + N(0, σ²I), z0 ~ N(0, σ0² I)."""

import torch
import torch.nn as nn

from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.ode_lebm import ODELEBM


class Linear(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.register_buffer("a", a)
        self.nfe = 0

    def forward(self, t, z):
        return z @ self.a.T


def test_langevin_matches_linear_gaussian_posterior():
    torch.manual_seed(0)
    sigma, sigma0 = 0.5, 1.0
    a = torch.tensor([[-0.1, 1.0], [-1.0, -0.1]])  # damped rotation
    c = torch.tensor([[1.0, 0.0]])                  # observe the first coordinate only
    model = ODELEBM(obs_dim=1, latent_dim=2, prior="gaussian", obs_sigma=sigma, prior_sigma=sigma0)
    model.dynamics.func = Linear(a)
    model.emission = nn.Linear(2, 1, bias=False)
    model.emission.weight.data.copy_(c)
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
    u = model.infer(xs, t, ms, schedule=LangevinSchedule(1000, 0.1), generator=torch.Generator().manual_seed(1))
    emp_mean, emp_cov = u.mean(0), torch.cov(u.T)
    std = cov.diagonal().sqrt()
    assert torch.all((emp_mean - mean).abs() < 0.1 * std), (emp_mean, mean, std)
    assert torch.allclose(emp_cov, cov, rtol=0.12, atol=0.03 * std.max() ** 2), (emp_cov, cov)
