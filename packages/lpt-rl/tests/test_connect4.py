"""Connect Four: the engine's win logic on hand-made positions and on the UCI 8-ply positions (none
has a winner or an immediate win), the opponent against a random player, its deviation rule, the
searching policy against the opponent, the offline data's layout and the model's data path."""

import numpy as np
import pytest
import torch

from latent_ebm.core.data import is_available
from latent_ebm.lpt_rl.connect4 import (
    COLS,
    Board,
    Connect4Env,
    connect4_dataset,
    expert_move,
    move_values,
    opponent_move,
    specialised_move,
    uci_positions,
)
from latent_ebm.lpt_rl.envs import normalized_score, rollout


def _board(moves: str) -> Board:
    b = Board()
    for c in moves:
        b.play(int(c))
    return b


@pytest.mark.parametrize("moves, won", [
    ("0101010", True),        # vertical four in column 0 (the first player)
    ("0011223", True),        # horizontal on the bottom row, columns 0-3
    ("01122323363", True),    # diagonal /: (0,0) (1,1) (2,2) (3,3)
    ("65544343303", True),    # diagonal \: (6,0) (5,1) (4,2) (3,3)
    ("0011226", False),       # three in a row, then elsewhere
    ("010101", False),        # two threes in columns, nobody four
])
def test_four_in_a_row_on_hand_made_positions(moves, won):
    b = _board(moves)
    assert b.last_mover_won() is won
    assert b.moves == len(moves)


def test_grid_round_trip_and_observation_planes():
    b = _board("3324")
    g = b.grid()  # the first player (3, 2 ... ) is to move after 4 plies: 1 = its stones
    assert g[0, 3] == 1 and g[1, 3] == -1 and g[0, 2] == 1 and g[0, 4] == -1 and np.count_nonzero(g) == 4
    b2 = Board.from_grid(g)
    assert (b2.me, b2.mask, b2.moves) == (b.me, b.mask, b.moves)
    env = Connect4Env()
    env.reset(seed=0)
    env.board = b
    obs = env.observation()
    assert obs.shape == (84,) and obs[:42].sum() == 2 and obs[42:].sum() == 2 and obs[3] == 1 and obs[42 + 10] == 1


def test_search_takes_a_win_and_blocks_a_threat():
    rng = np.random.default_rng(0)
    assert expert_move(_board("010101"), 2, rng, eps=0.0) == 0        # win at once in column 0
    b = _board("01020")  # x has three stacked in column 0, o to move
    assert opponent_move(b, 2, rng, deviate=0.0) == 0                 # o must block column 0
    vals = move_values(b, 2)
    assert vals[0] == max(vals.values()) and min(vals.values()) < -900  # any other column loses


def test_opponent_deviates_from_the_rightmost_column_at_rate_0_2():
    b = _board("61626")  # x has three stacked in column 6: the only block is the rightmost column
    rng = np.random.default_rng(1)
    picks = np.array([opponent_move(b, 2, rng) for _ in range(2000)])
    assert abs((picks != COLS - 1).mean() - 0.2) < 0.03


@pytest.mark.skipif(not is_available("connect4", "connect_4.tsv.gz"), reason="the connect4 dataset is not cached")
def test_uci_8_ply_positions_have_no_winner_and_no_immediate_win():
    """UCI Connect-4: all legal 8-ply positions in which neither player has won and the next move is
    not forced; x (first player) to move. The engine agrees on the first 3000 rows."""
    boards, target = uci_positions(limit=3000)
    assert len(boards) == 3000 and set(np.unique(target)) <= {0, 1, 2}
    for b in boards:
        assert b.moves == 8 and not b.last_mover_won()
        other = Board(b.me ^ b.mask, b.mask, b.moves)  # the same stones, o to move
        assert not any(b.is_winning(c) for c in b.legal())
        assert not any(other.is_winning(c) for c in other.legal())


def test_the_4_ply_opponent_never_loses_to_a_random_player():
    env = Connect4Env(opponent_depth=4)
    rng = np.random.default_rng(0)
    for i in range(100):
        env.reset(seed=i)
        done = False
        while not done:
            _, r, done, _, _ = env.step(int(rng.choice(env.board.legal())))
        assert r <= 0, f"game {i}: the random player won"


def test_searching_policy_beats_the_opponent_and_specialised_policy_is_worse():
    out_e = rollout("connect4", lambda o, a, act: _policy(o, expert=True), 8, seed=0)
    out_s = rollout("connect4", lambda o, a, act: _policy(o, expert=False, k=a.shape[1]), 16, seed=0)
    assert out_e["win_rate"] == 1.0 and out_s["win_rate"] < 0.5
    assert normalized_score(np.array([-1.0, 1.0]), "connect4").tolist() == [0.0, 100.0]


def _policy(obs, expert, k=0):
    rng = np.random.default_rng(k)
    out = -np.ones((len(obs), COLS), np.float32)
    for i, o in enumerate(obs):
        g = o[-1, :42].reshape(6, 7) - o[-1, 42:].reshape(6, 7)
        b = Board.from_grid(g.astype(np.int8))
        col = expert_move(b, 4, rng, eps=0.0) if expert else specialised_move(b, k, rng)
        out[i, col] = 1.0
    return out


def test_offline_data_layout_and_model_data_path(tmp_path):
    from latent_ebm.core.testing.contract import tiny_trainer
    from latent_ebm.lpt_rl import LPTRLDataModule, LPTRLModule
    from latent_ebm.lpt_rl.data import split_episodes

    data = connect4_dataset(6, seed=0)
    eps = split_episodes(data)
    assert len(eps) == 6 and data["observations"].shape[1] == 84 and data["actions"].shape[1] == COLS
    assert set(np.unique(data["actions"])) == {-1.0, 1.0} and (data["actions"] == 1).sum(1).tolist() == [1] * len(data["actions"])
    for ep in eps:  # the return is the outcome, paid at the last step only
        assert ep["rewards"][:-1].tolist() == [0.0] * (len(ep["rewards"]) - 1) and ep["rewards"][-1] in (-1.0, 0.0, 1.0)
    assert (eps[0]["actions"][:3].argmax(1) == COLS - 1).all()  # the specialised opening
    assert [e["rewards"][-1] for e in eps[1::2]] == [1.0] * 3  # the searching policy wins
    dm = LPTRLDataModule(env="connect4", n_episodes=6, batch_size=4, val_fraction=0.2)
    dm.load = lambda: data  # no cache write in a test
    torch.manual_seed(0)
    m = LPTRLModule(env="connect4", d_model=8, n_layers=1, n_heads=2, context=8, n_latent=1, prior="gaussian",
                    return_hidden=(8,), test_episodes=0, chains={"persistent": True, "n_examples": 5})
    tiny_trainer(tmp_path, max_epochs=1, limit_val_batches=0).fit(m, dm)
    assert not bool(m.stats_set) and m.obs_std.eq(1).all()  # stone planes are not z-scored
    out = m.evaluate(2, seed=0)
    assert out["returns"].shape == (2,) and 0.0 <= out["win_rate"] <= 1.0
