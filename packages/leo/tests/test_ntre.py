"""NTRE recovers a known log density ratio: q = N(m, s² I) against p_0 = N(0, I) in 2-d."""

import math

import pytest
import torch

from latent_ebm.leo.nets import WaymarkRatios
from latent_ebm.leo.ntre import ntre_loss, waymark_alphas, waymarks

M = torch.tensor([3.0, 0.0])
S = 0.6


def true_log_ratio(z):
    """log N(z; M, S² I) - log N(z; 0, I)."""
    d = z.shape[1]
    log_q = -((z - M) ** 2).sum(1) / (2 * S**2) - d * math.log(S)
    log_p = -(z**2).sum(1) / 2
    return log_q - log_p


def fit(n_waymarks, *, magnitude=1.0, steps=600, seed=0):
    torch.manual_seed(seed)
    net = WaymarkRatios(2, n_waymarks, 32)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        z_q = M + S * torch.randn(256, 2, generator=g)
        eps = torch.randn(256, 2, generator=g)
        loss = ntre_loss(net, z_q, eps, noise_magnitude=magnitude)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


def eval_points():
    """A grid over where the two distributions and the path between them put their mass."""
    a, b = torch.meshgrid(torch.linspace(-1, 4, 25), torch.linspace(-1.5, 1.5, 13), indexing="ij")
    return torch.stack([a, b], -1).reshape(-1, 2)


def test_waymarks_interpolate_from_q_to_the_base():
    z_q, eps = torch.randn(5, 3), torch.randn(5, 3)
    zs = waymarks(z_q, eps, waymark_alphas(4))
    assert zs.shape == (5, 5, 3)
    torch.testing.assert_close(zs[0], z_q)
    torch.testing.assert_close(zs[-1], eps)


@pytest.fixture(scope="module")
def fitted():
    return {k: fit(k) for k in (1, 4)}


def test_ntre_recovers_the_analytic_log_ratio(fitted):
    z = eval_points()
    with torch.no_grad():
        est, true = fitted[4](z), true_log_ratio(z)
    corr = torch.corrcoef(torch.stack([est, true]))[0, 1]
    assert corr > 0.99, corr


def test_more_waymarks_beat_one_nce_ratio_across_the_density_chasm(fitted):
    z = eval_points()
    with torch.no_grad():
        true = true_log_ratio(z)
        err = {k: (net(z) - true).abs().mean() for k, net in fitted.items()}
    assert err[4] < 0.75 * err[1], err


class _Constant(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor([[2.0]]))

    def forward(self, z):
        return self.c.expand(z.shape[0], 1)


def test_noise_intensified_loss_keeps_the_ratio_optimum():
    """For every M the minimiser is h = log p_k / p_{k+1}: with the two classes equal in law the
    optimal constant logit is 0, also at M = 8 (the logit offset log M and the weight M cancel)."""
    net = WaymarkRatios(2, 1, 4)
    net.heads[0] = _Constant()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    z = torch.randn(64, 2)
    for _ in range(400):
        loss = ntre_loss(net, z, z, noise_magnitude=8.0)  # a_1 = 1: the "noise" class is z too
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert abs(net.heads[0].c.item()) < 1e-2


def test_noise_magnitude_below_one_is_refused():
    with pytest.raises(ValueError, match="noise_magnitude=0.5"):
        ntre_loss(WaymarkRatios(2, 2, 8), torch.zeros(4, 2), torch.zeros(4, 2), noise_magnitude=0.5)
