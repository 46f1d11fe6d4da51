"""Known answers: the chain MDP (return conditioning picks the first action the data's return
hinged on), Langevin posterior and plan against the closed forms of a linear-Gaussian return
model, causality of the action head, exact truncated-history acting, scores, environments."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from latent_ebm.core.lightning import ChainConfig
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing.contract import tiny_trainer
from latent_ebm.lpt_rl import LPTRLDataModule, LPTRLModule, SequenceBCModule
from latent_ebm.lpt_rl.envs import ChainMDP, normalized_score, rollout

SMALL = dict(env="chain", d_model=16, n_layers=1, n_heads=2, context=8, return_hidden=(32,), dropout=0.0,
             return_dropout=0.0, test_episodes=0)


def test_chain_lpt_gets_the_return_it_is_asked_for(tmp_path):
    """Half the data opens with a_0 > 0 (return 1), half with a_0 < 0 (return 0). Planned for
    y* = 1 the policy opens positive, for y* = 0 negative (w = 10, LPT-EI; no-UNet prior for speed)."""
    torch.manual_seed(0)
    dm = LPTRLDataModule(env="chain", n_episodes=64, batch_size=32)
    dm.setup("fit")
    m = LPTRLModule(**SMALL, prior="gaussian", n_latent=1, plan_weight=10.0,
                    chains=ChainConfig(persistent=True, n_examples=len(dm.train_set)), seed=0)
    tiny_trainer(tmp_path, max_epochs=60, limit_val_batches=0).fit(m, dm)
    high = m.evaluate(32, targets=[1.0] * 32, seed=1)["returns"].mean()
    low = m.evaluate(32, targets=[0.0] * 32, seed=2)["returns"].mean()
    assert high > 0.75 and low < 0.25, (high, low)


class _Linear(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = w

    def forward(self, z):
        return z.flatten(1) @ self.w


def _linear_model(plan_weight=1.0, precision=2.0):
    m = LPTRLModule(**SMALL, prior="gaussian", n_latent=1, return_precision=precision, plan_weight=plan_weight)
    w = torch.zeros(16)
    w[0], w[1] = 1.5, -0.5
    m.return_model = _Linear(w)
    return m, w


def _moments_along(u, w):
    proj = u.flatten(1) @ (w / w.norm())
    return proj.mean().item(), proj.var().item()


def test_posterior_and_plan_langevin_land_on_the_closed_form():
    """With r(z) = w.z and p(y | z) = N(w.z, 1/lam), p(z | y) ∝ N(z; 0, I) p(y | z)^k is Gaussian;
    along w/|w| its mean is k lam |w| y / (1 + k lam |w|²) and its variance 1 / (1 + k lam |w|²).
    The posterior (k = 1, no action term: every step masked) and the plan (k = w = 3) both land there."""
    torch.manual_seed(0)
    y = 0.8
    for k in (1.0, 3.0):
        m, w = _linear_model(plan_weight=k)
        a = k * 2.0 * w.square().sum()
        mean, var = k * 2.0 * w.norm() * y / (1 + a), 1 / (1 + a)
        sched = LangevinSchedule(n_steps=150, step_size=0.1)
        if k == 1.0:
            n = 1000  # the posterior runs the (masked) policy every step: fewer chains
            x = {"x": torch.zeros(n, 4, 2), "a": torch.zeros(n, 4, 1), "mask": torch.zeros(n, 4),
                 "y": torch.full((n,), y)}
            u = m.infer(x, schedule=sched, generator=torch.Generator().manual_seed(1))
        else:
            u = m.plan(torch.full((4000,), y), schedule=sched, generator=torch.Generator().manual_seed(2))
        got_mean, got_var = _moments_along(u, w)
        # ULA's bias at s = 0.1 is O(s²) on the variance: a few per cent
        assert abs(got_mean - float(mean)) < 0.03 and abs(got_var / float(var) - 1) < 0.12, (k, got_mean, mean, got_var, var)


def test_action_at_state_t_never_sees_a_t_and_truncated_history_is_exact():
    torch.manual_seed(0)
    m = LPTRLModule(**{**SMALL, "env": "pendulum", "n_layers": 2, "context": 6}).eval()
    obs, act = torch.randn(3, 12, 3), torch.randn(3, 12, 1)
    z = torch.randn(3, 4, 16)
    ref = m.policy(obs, act, z)
    act2 = act.clone()
    act2[:, 7] += 5.0
    out = m.policy(obs, act2, z)
    torch.testing.assert_close(out[:, :8], ref[:, :8])  # rows 0..7 read at s_0..s_7: a_7 unseen
    assert (out[:, 8:] - ref[:, 8:]).abs().max() > 1e-4
    # acting at s_11 from the last receptive_field tokens equals the full forward's last row
    torch.testing.assert_close(m.policy.act(obs, act[:, :11], z), ref[:, 11], rtol=1e-5, atol=1e-6)
    assert m.policy.receptive_field == 2 * 5 + 1


def test_normalized_score_is_0_and_100_at_the_references():
    assert normalized_score(-20.272305, "hopper") == pytest.approx(0.0)
    assert normalized_score(3234.3, "hopper") == pytest.approx(100.0)
    assert normalized_score(np.array([0.0, 1.0]), "chain").tolist() == [0.0, 100.0]


def test_chain_mdp_pays_for_a_positive_first_action():
    for first, expected in ((0.3, 1.0), (-0.3, 0.0)):
        out = rollout("chain", lambda o, a, active, f=first: np.full((len(o), 1), f if a.shape[1] == 0 else -1.0), 3)
        assert out["returns"].tolist() == [expected] * 3 and out["lengths"].tolist() == [4] * 3
    env = ChainMDP()
    obs, _ = env.reset()
    assert obs.tolist() == [0.0, 0.0]


def test_pendulum_controller_swings_up():
    pytest.importorskip("gymnasium")
    from latent_ebm.lpt_rl.envs import ENVS, pendulum_controller

    out = rollout("pendulum", lambda o, a, active: np.array([[pendulum_controller(x[-1]) / 2.0] for x in o]), 5)
    assert out["returns"].mean() > ENVS["pendulum"].ref_max - 150  # near the controller's reference
    assert math.isfinite(out["returns"].sum())


def test_bc_baseline_fits_and_acts(tmp_path):
    dm = LPTRLDataModule(env="chain", n_episodes=32, batch_size=16)
    m = SequenceBCModule(env="chain", d_model=16, n_layers=1, n_heads=2, context=8, condition="return", test_episodes=0)
    tiny_trainer(tmp_path, max_epochs=2, limit_val_batches=0).fit(m, dm)
    out = m.evaluate(4, targets=[1.0, 0.0, 1.0, 0.0])
    assert out["returns"].shape == (4,) and m.latents(torch.tensor([1.0])).shape == (1, 4, 16)


def test_returns_to_go_from_step_rewards_in_the_data_and_while_acting():
    from latent_ebm.lpt_rl.baseline import acting_rtg
    from latent_ebm.lpt_rl.data import TrajectoryDataset, returns_to_go

    r = np.array([1.0, 0.0, 2.0, 0.5])
    np.testing.assert_allclose(returns_to_go(r), [3.5, 2.5, 2.5, 0.5])
    ep = {"observations": np.zeros((4, 2), np.float32), "actions": np.zeros((4, 1), np.float32), "rewards": r}
    ds = TrajectoryDataset([ep], max_len=6, action_high=1.0)
    np.testing.assert_allclose(ds[0]["rtg"].numpy(), [3.5, 2.5, 2.5, 0.5, 0.0, 0.0])
    assert float(ds[0]["y"]) == 3.5
    # acting: R_0 = y*, R_{k+1} = R_k - r_k
    np.testing.assert_allclose(acting_rtg(np.array([5.0, 1.0]), np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])),
                               [[5.0, 4.0, 4.0, 2.0], [1.0, 1.0, 1.0, 1.0]])


def test_dt_with_step_rewards_reads_the_return_to_go_and_gets_what_it_is_asked_for(tmp_path):
    """DT (condition="rtg") on the chain MDP: the action depends on R_t, and asked for y* = 1 it
    opens positive, for y* = 0 negative (the chain pays at its last step, so R_t = y throughout)."""
    torch.manual_seed(0)
    dm = LPTRLDataModule(env="chain", n_episodes=64, batch_size=32)
    m = SequenceBCModule(env="chain", d_model=16, n_layers=1, n_heads=2, context=8, dropout=0.0, condition="rtg",
                         test_episodes=0, seed=0)
    with pytest.raises(ValueError, match="rtg"):
        m.policy(torch.zeros(1, 2, 2), torch.zeros(1, 2, 1), None)
    tiny_trainer(tmp_path, max_epochs=30, limit_val_batches=0).fit(m, dm)
    high = m.evaluate(16, targets=[1.0] * 16, seed=1)["returns"].mean()
    low = m.evaluate(16, targets=[0.0] * 16, seed=2)["returns"].mean()
    assert high > 0.75 and low < 0.25, (high, low)
    obs, act = torch.zeros(2, 1, 2), torch.zeros(2, 0, 1)
    first = m.policy.act(obs, act, None, torch.tensor([[1.0], [0.0]]))
    assert first[0, 0] > 0 > first[1, 0], first
