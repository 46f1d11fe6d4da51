"""d3rlpy baselines (``[baselines]`` extra; skipped without d3rlpy): the MDPDataset conversion, and
CQL on the chain MDP learning the better opening from mixed data (a known answer)."""

import numpy as np
import pytest

pytest.importorskip("d3rlpy")

from latent_ebm.lpt_rl import LPTRLDataModule  # noqa: E402
from latent_ebm.lpt_rl.connect4 import connect4_dataset  # noqa: E402
from latent_ebm.lpt_rl.data import chain_dataset, split_episodes  # noqa: E402
from latent_ebm.lpt_rl.offline import OfflineRLBaseline, to_mdp_dataset  # noqa: E402


def test_mdp_dataset_holds_the_episodes():
    eps = split_episodes(chain_dataset(6, seed=0))
    ds = to_mdp_dataset(eps, "chain")
    assert len(ds.episodes) == 6 and ds.transition_count == 6 * 4
    ep = ds.episodes[1]
    np.testing.assert_array_equal(ep.observations, eps[1]["observations"])
    np.testing.assert_array_equal(ep.actions, eps[1]["actions"])
    assert ep.terminated and ep.rewards.ravel().tolist() == [0.0] * 4  # episode 1 opens negative: return 0
    assert ds.episodes[0].rewards.ravel().tolist() == [0.0, 0.0, 0.0, 1.0]
    c4 = split_episodes(connect4_dataset(2, seed=0))  # discrete: the column index of 2 onehot - 1
    d = to_mdp_dataset(c4, "connect4", discrete=True)
    np.testing.assert_array_equal(d.episodes[0].actions.ravel(), c4[0]["actions"].argmax(1))
    assert d.dataset_info.action_size == 7
    dm = LPTRLDataModule(env="chain", n_episodes=10, val_fraction=0.2)
    dm.setup("fit")  # the same training split as the sequence models'
    assert len(dm.train_episodes) == len(dm.train_set) == 8
    assert [float(e["rewards"].sum()) for e in dm.train_episodes] == dm.train_set.ret.tolist()


def test_chain_cql_learns_the_better_opening():
    """Half the data opens a_0 > 0 (return 1, paid 3 steps later), half a_0 < 0 (return 0). CQL's
    critic ranks the positive opening above the negative one (the answer: gamma^3 = 0.97 above), and the
    policy opens positive (behaviour cloning's mean opening is near 0)."""
    eps = split_episodes(chain_dataset(64, seed=0))
    fast = dict(conservative_weight=1.0, alpha_learning_rate=0.0, n_action_samples=4, tau=0.1,  # CPU-test sized
                critic_learning_rate=3e-3, actor_learning_rate=1e-3)
    m = OfflineRLBaseline("chain", "cql", n_steps=120, batch_size=64, hidden=(32, 32), seed=0, config=fast).fit(eps)
    s0 = np.zeros((1, 2), np.float32)
    q_pos = float(m.algo.predict_value(s0, np.full((1, 1), 0.8, np.float32))[0])
    q_neg = float(m.algo.predict_value(s0, np.full((1, 1), -0.8, np.float32))[0])
    assert q_pos - q_neg > 0.3, (q_pos, q_neg)
    assert float(m.act(s0)[0, 0]) > 0
    assert m.evaluate(4, seed=1)["returns"].tolist() == [1.0] * 4
