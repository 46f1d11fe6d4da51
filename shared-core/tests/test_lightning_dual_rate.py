"""DualRateModule: the fast loop against closed forms, the slow loop learning W (pPCA)."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from latent_ebm.core.lightning import FastLoop, LocalPosterior, OptimConfig, warmup_cosine
from latent_ebm.core.testing import (
    LinearGaussian,
    LinearGaussianDualRate,
    fixed_eps_optimum,
    subspace_angles,
)
from latent_ebm.core.testing.contract import tiny_trainer

# W^T W diagonal: the exact posterior is then a diagonal Gaussian, reachable by q
LG = LinearGaussian.random(6, 2, 0.5, scales=(2.0, 1.0), orthogonal=True, seed=3)


def _module(fast: dict | None = None, **kw) -> LinearGaussianDualRate:
    loop = FastLoop(lr=0.1, final_ratio=0.01, weight_decay=0.0, **(fast or {}))
    m = LinearGaussianDualRate(data_dim=6, latent_dim=2, obs_sigma=0.5, fast=loop, seed=0, **kw).double()
    with torch.no_grad():
        m.W.copy_(LG.W)
    return m


def test_fast_loop_reaches_exact_posterior_with_exact_elbo():
    x, _ = LG.sample(128, seed=1)
    mean, cov = LG.posterior(x)
    local = _module(expected_nll=True).fit_local(x, 300)
    torch.testing.assert_close(local.mu, mean, atol=1e-4, rtol=0)
    torch.testing.assert_close(local.logvar.exp(), cov.diag().expand_as(mean), atol=1e-4, rtol=0)


def test_fast_loop_reaches_fixed_eps_optimum():
    """The faithful (sampled, one fixed eps) loop converges to the closed-form optimum of the
    single-sample ELBO, which is not the posterior: LTM's inner loop is close to MAP."""
    x, _ = LG.sample(128, seed=1)
    local = _module().fit_local(x, 1000)
    mu, s = fixed_eps_optimum(LG, x, local.eps)
    torch.testing.assert_close(local.mu, mu, atol=1e-6, rtol=0)
    torch.testing.assert_close(local.logvar.exp().sqrt(), s, atol=1e-6, rtol=0)
    mean, _ = LG.posterior(x)
    assert (local.mu - mean).abs().max() > 0.1  # genuinely a different point


def _learn(expected_nll: bool, tmp_path) -> tuple[LinearGaussianDualRate, torch.Tensor]:
    L.seed_everything(0, verbose=False)
    x, _ = LG.sample(1024, seed=1)
    m = LinearGaussianDualRate(data_dim=6, latent_dim=2, obs_sigma=0.5, expected_nll=expected_nll,
                               fast=FastLoop(steps=30, lr=0.5, weight_decay=0.0),
                               optim=OptimConfig(lr=0.1, algorithm="sgd"), seed=0)
    w0 = m.W.detach().double().clone()
    tiny_trainer(tmp_path, max_epochs=60).fit(m, DataLoader(TensorDataset(x.float()), batch_size=1024))
    return m, w0


def test_slow_loop_learns_principal_subspace(tmp_path):
    m, w0 = _learn(False, tmp_path)
    before = subspace_angles(w0, LG.W).max()
    after = subspace_angles(m.W.detach().double(), LG.W).max()
    assert before > 0.5 and after < 0.1, (before, after)


def test_slow_loop_learns_marginal_covariance(tmp_path):
    x, _ = LG.sample(1024, seed=1)
    emp = torch.cov(x.T)
    m, w0 = _learn(True, tmp_path)

    def rel_err(w):
        return ((w @ w.T + 0.25 * torch.eye(6) - emp).norm() / emp.norm()).item()

    before, after = rel_err(w0), rel_err(m.W.detach().double())
    assert after < 0.3 and after < before / 2.5, (before, after)


def test_validation_runs_inner_loop_and_refuses_inference_mode(tmp_path):
    x, _ = LG.sample(64, seed=2)
    m = _module({"eval_steps": 5}).float()
    out = tiny_trainer(tmp_path).validate(m, DataLoader(TensorDataset(x.float()), batch_size=32), verbose=False)
    assert set(out[0]) == {"val/nll", "val/kl", "val/elbo"}
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode=False"):
        m.fit_local(x.float(), 2)


def test_accumulate_inner_grads_adds_inner_decoder_gradient():
    """With accumulate_inner_grads the slow gradient equals grad(slow loss) + sum over inner steps
    of grad_W(sum_b nll + kl) at each inner iterate (the first-party code's accumulation)."""
    x, _ = LG.sample(16, seed=4)
    m = _module({"accumulate_grads": True, "steps": 3})
    local, acc, _ = m._fit_local(x, 3, generator=torch.Generator().manual_seed(0), idx=None, accumulate=True)
    ref = _module({"steps": 3})
    ref_local = ref.init_local(x, generator=torch.Generator().manual_seed(0))
    total = torch.zeros_like(ref.W)
    mu, lv = ref_local.mu.clone().requires_grad_(), ref_local.logvar.clone().requires_grad_()
    opt = torch.optim.AdamW([mu, lv], lr=0.1, weight_decay=0.0)
    for t in range(3):
        opt.param_groups[0]["lr"] = 0.1 * warmup_cosine(t, max_steps=3, min_ratio=0.01)
        nll, kl = ref.elbo_terms(x, LocalPosterior(mu, lv, ref_local.eps))
        gmu, glv, gw = torch.autograd.grad((nll + kl).sum(), [mu, lv, ref.W])
        mu.grad, lv.grad = gmu, glv
        opt.step()
        total += gw
    torch.testing.assert_close(acc[0], total)
    torch.testing.assert_close(local.mu, mu.detach())
