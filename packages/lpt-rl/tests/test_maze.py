"""PointMaze (Maze2D, ``[maze]`` extra): the waypoint controller reaches the fixed goal in every
maze from its farthest cell, the generated data is D4RL-shaped and relabelled against the goal,
and scores are 0 and 100 at the reference returns."""

import numpy as np
import pytest

from latent_ebm.lpt_rl.envs import ENVS, normalized_score

MAZES = ("maze-umaze", "maze-medium", "maze-large")


def test_normalized_score_is_0_and_100_at_the_maze_references():
    for name in MAZES:
        s = ENVS[name]
        assert normalized_score(s.ref_min, name) == pytest.approx(0.0)
        assert normalized_score(s.ref_max, name) == pytest.approx(100.0)
        assert s.ref_max > s.ref_min and (s.obs_dim, s.act_dim) == (4, 2)


@pytest.mark.parametrize("name", MAZES)
def test_waypoint_controller_reaches_the_goal_from_the_farthest_cell(name):
    pytest.importorskip("gymnasium_robotics")
    from latent_ebm.lpt_rl.maze import PointMazeTask, WaypointController

    task = PointMazeTask(name)
    ctrl = WaypointController(task)
    dist = ctrl.distances(task.goal_cell)
    far = max(task.free_cells, key=lambda c: dist[c])
    assert dist[far] >= 6  # a real traversal (UMaze 6 cells, Medium 10, Large 18)
    obs, _ = task.reset(seed=0, start_cell=far)
    assert task.cell_of(obs[:2]) == far
    reached = None
    for t in range(ENVS[name].max_len):
        obs, r, *_ = task.step(ctrl(obs, task.goal_cell, task.goal))
        if r > 0:
            reached = t
            break
    task.close()
    assert reached is not None and np.linalg.norm(obs[:2] - task.goal) <= 0.45, reached


def test_maze_data_is_relabelled_against_the_fixed_goal():
    pytest.importorskip("gymnasium_robotics")
    from latent_ebm.lpt_rl.data import split_episodes
    from latent_ebm.lpt_rl.maze import PointMazeTask, maze_dataset

    data = maze_dataset("maze-umaze", 2, seed=0, horizon=60)
    assert data["observations"].shape == (120, 4) and data["actions"].shape == (120, 2)
    assert np.abs(data["actions"]).max() <= 1.0 and data["timeouts"].sum() == 2 and not data["terminals"].any()
    eps = split_episodes(data)
    assert [len(e["rewards"]) for e in eps] == [60, 60]
    goal = PointMazeTask("maze-umaze").goal
    for e in eps:  # r_t = 1 iff s_{t+1} is within 0.45 of the goal
        near = np.linalg.norm(e["observations"][1:, :2] - goal, axis=1) <= 0.45
        np.testing.assert_array_equal(e["rewards"][:-1], near.astype(np.float32))
