"""Maze2D, the stitching benchmark: gymnasium-robotics ``PointMaze_{UMaze,Medium,Large}-v3``
with a fixed goal, and offline data from a scripted waypoint controller, built as D4RL built
``maze2d-*-v1`` (needs the ``[maze]`` extra: ``gymnasium-robotics``, ``mujoco``).

- Task (:class:`PointMazeTask`): the point mass starts in a uniformly drawn free cell other than
  the goal's (plus the env's uniform +-0.25 position noise) and earns the env's sparse reward,
  1 at every step within 0.45 of the goal, over the env's horizon (300 / 600 / 800 steps; the
  task continues at the goal, as maze2d's does). The goal is the centre of a fixed cell, without
  noise: (1, 1) in UMaze, (6, 6) in Medium, (7, 9) in Large (the far corner cells of
  gymnasium's maps, where D4RL's maps put their ``G``). Observations are (x, y, vx, vy), the
  goal is not observed (as in maze2d); actions are the env's forces in [-1, 1]².
- Controller (:class:`WaypointController`): breadth-first search over the free cells (4-neighbour
  moves) gives the next cell on a shortest path to the target cell; the waypoint is that cell's
  centre (the target point itself once in the target cell), and the action is the PD law
  ``clip(kp (waypoint - pos) - kd vel, -1, 1)`` (D4RL's waypoint controller has the same form,
  with its waypoints from Q-iteration over cells).
- Data (:func:`maze_dataset`): per episode a fresh start cell, then the controller drives to
  uniformly drawn target cells, a new one each time it gets within 0.5 of the current one,
  with Gaussian action noise (std ``noise``, clipped to [-1, 1]); episodes run the full horizon
  (``timeouts`` at the end). Rewards are relabelled against the fixed goal with the env's rule
  (1 iff the next position is within 0.45 of it), so most episodes never pass the goal and the
  high-return behaviour must be stitched from pieces: the point of maze2d.
- Reference scores (``envs.ENVS``; :func:`reference_returns` measures them, the command is in the
  README): 0 = uniform random actions, 100 = the noise-free controller driving straight to the
  goal, both from the task's random start cells, over the same episodes. These are this
  package's references, not D4RL's (maze2d-medium-v1: 13.13 / 277.39, from the same two
  policies on D4RL's older point mass), so scores are comparable only within this package.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from latent_ebm.core.checks import check_choice, check_int, check_real, not_allowed

__all__ = ["GOAL_CELLS", "MAZES", "PointMazeTask", "WaypointController", "maze_dataset", "reference_returns"]

MAZES = {"maze-umaze": "PointMaze_UMaze-v3", "maze-medium": "PointMaze_Medium-v3", "maze-large": "PointMaze_Large-v3"}
GOAL_CELLS = {"maze-umaze": (1, 1), "maze-medium": (6, 6), "maze-large": (7, 9)}
GOAL_RADIUS = 0.45  # the env's sparse-reward radius


def _make_point_maze(name: str):
    try:
        import gymnasium as gym
        import gymnasium_robotics
    except ImportError as err:
        raise not_allowed("env", name, "it needs gymnasium-robotics: pip install 'latent-ebm-lpt-rl[maze]'") from err
    gym.register_envs(gymnasium_robotics)
    # continuing_task: no termination at the goal; the horizon is the rollout's (spec.max_len)
    return gym.make(MAZES[name], continuing_task=True, reset_target=False).unwrapped


class PointMazeTask:
    """A PointMaze with the fixed goal of :data:`GOAL_CELLS` and random start cells, stepping
    like the other envs here: ``reset(seed=) -> (obs (4,), info)``, ``step(a) -> (obs, r, False,
    False, info)`` (the rollout cuts at the horizon)."""

    def __init__(self, name: str) -> None:
        check_choice("env", name, tuple(MAZES))
        self.name = name
        self.env = _make_point_maze(name)
        self.maze_map = np.asarray(self.env.maze.maze_map, dtype=np.int64)
        self.free_cells = [tuple(c) for c in np.argwhere(self.maze_map == 0).tolist()]
        self.goal_cell = GOAL_CELLS[name]
        self.goal = self.cell_xy(self.goal_cell)

    def cell_xy(self, cell: tuple[int, int]) -> np.ndarray:
        return np.asarray(self.env.maze.cell_rowcol_to_xy(np.asarray(cell)), dtype=np.float64)

    def cell_of(self, xy: np.ndarray) -> tuple[int, int]:
        r, c = self.env.maze.cell_xy_to_rowcol(np.asarray(xy))
        return int(r), int(c)

    def reset(self, seed: int | None = None, start_cell: tuple[int, int] | None = None) -> tuple[np.ndarray, dict]:
        rng = np.random.default_rng(seed)
        if start_cell is None:
            starts = [c for c in self.free_cells if c != self.goal_cell]
            start_cell = starts[int(rng.integers(len(starts)))]
        obs, info = self.env.reset(seed=None if seed is None else int(seed),
                                   options={"goal_cell": np.asarray(self.goal_cell), "reset_cell": np.asarray(start_cell)})
        self.env.goal = self.goal.copy()  # the fixed goal, without the env's position noise
        self.env.update_target_site_pos()
        return obs["observation"].astype(np.float32), info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, _, _, info = self.env.step(np.asarray(action, dtype=np.float64).reshape(2))
        return obs["observation"].astype(np.float32), float(reward), False, False, info

    def close(self) -> None:
        self.env.close()


class WaypointController:
    """BFS-over-cells waypoints and a PD law (see the module docstring); ``kp``, ``kd`` the gains."""

    def __init__(self, task: PointMazeTask, kp: float = 10.0, kd: float = 1.0) -> None:
        check_real("kp", kp, low=0.0, low_open=True)
        check_real("kd", kd, low=0.0)
        self.task, self.kp, self.kd = task, kp, kd
        self._dist: dict[tuple[int, int], np.ndarray] = {}

    def distances(self, target: tuple[int, int]) -> np.ndarray:
        """Shortest-path lengths in cells from every cell to ``target`` (-1: wall or unreachable)."""
        if target not in self._dist:
            grid = self.task.maze_map
            dist = np.full(grid.shape, -1, dtype=np.int64)
            dist[target] = 0
            queue = deque([target])
            while queue:
                r, c = queue.popleft()
                for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                    if grid[nr, nc] == 0 and dist[nr, nc] < 0:
                        dist[nr, nc] = dist[r, c] + 1
                        queue.append((nr, nc))
            self._dist[target] = dist
        return self._dist[target]

    def waypoint(self, pos: np.ndarray, target: tuple[int, int], target_xy: np.ndarray | None = None) -> np.ndarray:
        """The next point to steer to: the centre of the next cell on a shortest path, or the
        target point once in the target cell."""
        cell = self.task.cell_of(pos)
        if cell == target:
            return self.task.cell_xy(target) if target_xy is None else target_xy
        dist = self.distances(target)
        r, c = cell
        nbrs = [(nr, nc) for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)) if dist[nr, nc] >= 0]
        if dist[r, c] < 0 or not nbrs:  # numerically inside a wall: steer back to this cell's centre
            return self.task.cell_xy(cell)
        return self.task.cell_xy(min(nbrs, key=lambda n: dist[n]))

    def __call__(self, obs: np.ndarray, target: tuple[int, int], target_xy: np.ndarray | None = None) -> np.ndarray:
        pos, vel = np.asarray(obs[:2], np.float64), np.asarray(obs[2:4], np.float64)
        return np.clip(self.kp * (self.waypoint(pos, target, target_xy) - pos) - self.kd * vel, -1.0, 1.0)


def maze_dataset(name: str, n_episodes: int, seed: int = 0, *, horizon: int | None = None,
                 noise: float = 0.5) -> dict[str, np.ndarray]:
    """D4RL-format waypoint-controller data for maze ``name`` (see the module docstring):
    ``n_episodes`` episodes of ``horizon`` steps (default: the env's), action noise std ``noise``.
    Episode i is reset with seed ``seed * 100_000 + i``; targets and noise come from ``seed``."""
    from .envs import env_spec

    check_int("n_episodes", n_episodes, low=1)
    check_real("noise", noise, low=0.0)
    if horizon is None:
        horizon = env_spec(name).max_len
    check_int("horizon", horizon, low=1)
    rng = np.random.default_rng(seed)
    task = PointMazeTask(name)
    ctrl = WaypointController(task)
    cols: dict[str, list] = {k: [] for k in ("observations", "actions", "rewards", "terminals", "timeouts")}
    for i in range(n_episodes):
        obs, _ = task.reset(seed=seed * 100_000 + i)
        target = task.free_cells[int(rng.integers(len(task.free_cells)))]
        for t in range(horizon):
            if np.linalg.norm(obs[:2] - task.cell_xy(target)) < 0.5:
                target = task.free_cells[int(rng.integers(len(task.free_cells)))]
            act = np.clip(ctrl(obs, target) + rng.normal(0.0, noise, size=2), -1.0, 1.0)
            nxt, _, _, _, _ = task.step(act)
            reward = float(np.linalg.norm(nxt[:2] - task.goal) <= GOAL_RADIUS)  # relabelled: the fixed goal
            for k, v in zip(cols, (obs, act, reward, False, t == horizon - 1)):
                cols[k].append(v)
            obs = nxt
    task.close()
    return {"observations": np.asarray(cols["observations"], np.float32),
            "actions": np.asarray(cols["actions"], np.float32),
            "rewards": np.asarray(cols["rewards"], np.float32),
            "terminals": np.asarray(cols["terminals"], bool), "timeouts": np.asarray(cols["timeouts"], bool)}


def reference_returns(name: str, n_episodes: int = 30, seed: int = 0, horizon: int | None = None) -> dict[str, float]:
    """Mean returns of the two reference policies on the task (episodes reset with seeds
    ``seed .. seed + n - 1``): ``random`` (uniform actions in [-1, 1]², drawn from ``seed``) and
    ``controller`` (the noise-free waypoint controller steering to the goal point)."""
    from .envs import env_spec

    check_int("n_episodes", n_episodes, low=1)
    horizon = env_spec(name).max_len if horizon is None else horizon
    task = PointMazeTask(name)
    ctrl = WaypointController(task)
    rng = np.random.default_rng(seed)
    out = {}
    for policy in ("random", "controller"):
        total = 0.0
        for i in range(n_episodes):
            obs, _ = task.reset(seed=seed + i)
            for _ in range(horizon):
                act = rng.uniform(-1.0, 1.0, size=2) if policy == "random" else ctrl(obs, task.goal_cell, task.goal)
                obs, r, _, _, _ = task.step(act)
                total += r
        out[policy] = total / n_episodes
    task.close()
    return out
