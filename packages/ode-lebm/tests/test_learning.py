"""Learning works: a tiny sinusoid fit extrapolates, the EBM prior learns two clusters."""


import torch
import torch.nn as nn

from latent_ebm.core.lightning import ChainConfig
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing.contract import tiny_trainer
from latent_ebm.ode_lebm import ODELEBMDataModule, ODELEBMModule
from latent_ebm.ode_lebm.sequence import prediction_errors

# The fit is bimodal across seeds: it either learns the oscillator or settles on dynamics that
# fit the window but drift after it. Measured with this setup (seed s = torch.manual_seed(s) and
# the model's seed): extrapolation MSE / the mean predictor's on seeds 0-6 = 0.53, 0.12, 0.75,
# 0.34, 0.20, 0.10, 0.50 (before the module moved onto the core's LatentEBMModule, with other noise
# streams: 0.13, 0.10, 0.14, 0.75, 0.08, 0.13, 0.46). The method's level is measured over 10 seeds
# by benchmarks/bench_prediction.py (sinusoids 0.269 after the move, 0.274 before); this test pins a
# seed that learns and fails if learning breaks.
SEED = 5


def test_tiny_sinusoid_fit_extrapolates_well_below_the_mean(tmp_path):
    torch.manual_seed(SEED)
    # random amplitude and phase at one frequency; extrapolate half a training window ahead
    # (3 time units observed, 1.5 predicted). The frequency range is the benchmark's job.
    dm = ODELEBMDataModule(dataset="sinusoids", n_train=200, n_val=40, n_test=40, train_steps=30,
                           test_steps=45, batch_size=50, seed=0, ranges={"frequency": (1.5, 1.5)})
    model = ODELEBMModule(latent_dim=4, ode_hidden=32, emission_hidden=32, prior="ebm", prior_hidden=32,
                          posterior=LangevinSchedule(20, 0.1), eval_posterior=LangevinSchedule(40, 0.1),
                          eval_chains=4, chains=ChainConfig(persistent=True, n_examples=200), optim={"lr": 3e-3},
                          prior_optim={"lr": 1e-3},
                          seed=SEED)
    tiny_trainer(tmp_path, max_epochs=16, limit_val_batches=0).fit(model, dm)
    test = dm.split_cache("test")
    batch = {k: torch.stack([test[i][k] for i in range(len(test))]) for k in test[0]}
    err = prediction_errors(model.predict_trajectory(batch), batch)
    train_mean = dm.split_cache("train").seqs.x.mean()
    mean_err = prediction_errors(torch.full_like(batch["x"], float(train_mean)), batch)
    assert err["extrap"].mean() < 0.3 * mean_err["extrap"].mean(), (err, mean_err)
    assert err["interp"].mean() < 0.2 * mean_err["interp"].mean()  # its time belongs to benchmarks, not here


class Zero(nn.Module):
    nfe = 0

    def forward(self, t, z):
        return torch.zeros_like(z)


def test_ebm_prior_learns_both_clusters_of_initial_states(tmp_path):
    """x_t = z0 + noise with z0 ~ N((±2.5, 0), 0.5² I): the learned prior's short-run samples
    (the reference 60 steps of 0.4) sit on both clusters, where N(0, I) puts little mass.
    (Clusters much narrower than the sampler's 0.4 noise make the short-run EBM unstable.)"""
    torch.manual_seed(0)
    n, centres = 256, torch.tensor([[2.5, 0.0], [-2.5, 0.0]])
    z0 = centres[torch.arange(n) % 2] + 0.5 * torch.randn(n, 2)
    x = z0[:, None].expand(n, 3, 2) + 0.1 * torch.randn(n, 3, 2)
    t = torch.tensor([0.0, 0.5, 1.0])
    model = ODELEBMModule(obs_dim=2, latent_dim=2, obs_sigma=0.1, prior="ebm", prior_hidden=64,
                          prior_optim={"lr": 5e-3}, prior_langevin=LangevinSchedule(60, 0.4),
                          posterior=LangevinSchedule(20, 0.05))
    model.dynamics.func = Zero()
    model.emission = nn.Linear(2, 2)
    model.emission.weight.data.copy_(torch.eye(2))
    model.emission.bias.data.zero_()
    model.emission.requires_grad_(False)
    ds = [{"x": x[i], "t": t, "mask": torch.ones(3)} for i in range(n)]
    loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True)
    tiny_trainer(tmp_path, max_epochs=15).fit(model, loader)

    u = model.sample_prior(2000, generator=torch.Generator().manual_seed(0))
    near = (u[:, None] - centres[None]).norm(dim=-1) < 1.0  # (N, 2); data: 86% within 1.0
    share = near.float().mean(0)
    gauss = torch.randn(2000, 2)
    gauss_share = ((gauss[:, None] - centres[None]).norm(dim=-1) < 1.0).float().mean(0)
    assert (share > 0.25).all(), share
    assert share.sum() > 0.6 and share.sum() > 4 * gauss_share.sum(), (share, gauss_share)
