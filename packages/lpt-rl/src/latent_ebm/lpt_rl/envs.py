"""Environments, their behaviour policies, reference scores, and batched evaluation rollouts.

- ``chain``: a tiny MDP written here (no dependency) whose return hinges on the first action:
  4 steps, 1-d action in [-1, 1]; the episode pays 1 at its last step iff a_0 > 0. The
  observation is (t / H, sign(a_0)) (0 before the first action), so a policy can follow its
  own choice but only return conditioning can tell which first action was wanted.
- ``pendulum``: gymnasium ``Pendulum-v1`` (classic control, no MuJoCo); offline data from a
  swing-up controller (energy pumping, then a PD balance) mixed per step with uniform random
  torques at a per-episode skill in [0, 1], so returns spread from about -1200 to -140.
- ``connect4``: Connect Four against ESPER's stochastic opponent (``connect4.py``, engine written
  here); the return is the outcome (+1 win, 0 draw, -1 loss); offline data from ESPER's 50/50
  mixture of an exploiting and a searching policy. Observations are {0, 1} stone planes and are
  not z-scored (a cell never filled in the data would otherwise blow up at test time).
- ``maze-umaze`` / ``maze-medium`` / ``maze-large``: gymnasium-robotics ``PointMaze_*-v3`` with a
  fixed goal and waypoint-controller data relabelled against it, as D4RL's maze2d (``maze.py``;
  the ``[maze]`` extra).
- ``hopper`` / ``walker2d``: gymnasium ``Hopper-v5`` / ``Walker2d-v5`` (MuJoCo) for the paper's
  locomotion settings; bring the offline data as a D4RL-format file (``data.path``).

Actions live in [-1, 1] in the model (tanh head); :class:`EnvSpec` scales them to the env's box.
Scores are normalised as D4RL does: 100 (R - R_min) / (R_max - R_min); the D4RL references
for Hopper/Walker2d are D4RL's ``infos.py`` (the LPT code's ``constants.py``); the Pendulum
references (random actions, ``pendulum_controller``) were measured once on this machine; the
measuring script was not kept, so treat them as this package's own, not a published scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from latent_ebm.core.checks import check_choice, check_int, not_allowed

__all__ = ["ENVS", "ChainMDP", "EnvSpec", "env_spec", "make_env", "normalized_score", "pendulum_controller",
           "rollout"]


@dataclass(frozen=True)
class EnvSpec:
    """An environment's sizes, its action bound, return scale (y = return / scale, the LPT code's
    convention), default planning target y* (raw return) and reference scores for normalisation."""

    name: str
    obs_dim: int
    act_dim: int
    max_len: int
    action_high: float
    return_scale: float
    target_return: float
    ref_min: float
    ref_max: float
    gym_id: str | None = None
    normalize_obs: bool = True


ENVS: dict[str, EnvSpec] = {
    "chain": EnvSpec("chain", 2, 1, 4, 1.0, 1.0, 1.0, 0.0, 1.0),
    # references: uniform random torques and the swing-up controller, 100 episodes each (seeds 0..99)
    "pendulum": EnvSpec("pendulum", 3, 1, 200, 2.0, 1000.0, -140.0, -1230.0, -150.0, "Pendulum-v1"),
    # outcome +1 / 0 / -1; score 0 = always lose, 100 = always win; y* = a win (the paper's Tab. 4)
    "connect4": EnvSpec("connect4", 84, 7, 21, 1.0, 1.0, 1.0, -1.0, 1.0, normalize_obs=False),
    # D4RL infos.py min/max; targets from the LPT code's config.py (hopper 3600, walker2d 5000)
    "hopper": EnvSpec("hopper", 11, 3, 1000, 1.0, 1000.0, 3600.0, -20.272305, 3234.3, "Hopper-v5"),
    "walker2d": EnvSpec("walker2d", 17, 6, 1000, 1.0, 1000.0, 5000.0, 1.629008, 4592.3, "Walker2d-v5"),
    # PointMaze v3 with a fixed goal (maze.py); horizons 300/600/800 and return scale 100 as the
    # LPT code's maze2d; references: uniform random actions and the noise-free waypoint controller,
    # 30 episodes each from random start cells (benchmarks/maze_references.py, results/
    # maze-references-cpu.json); y* = the controller's return, as the code's 165/280/275 sit just
    # above D4RL's maze2d references 161.86/277.39/273.99
    "maze-umaze": EnvSpec("maze-umaze", 4, 2, 300, 1.0, 100.0, 220.0, 6.43, 220.17, "PointMaze_UMaze-v3"),
    "maze-medium": EnvSpec("maze-medium", 4, 2, 600, 1.0, 100.0, 473.0, 13.9, 473.43, "PointMaze_Medium-v3"),
    "maze-large": EnvSpec("maze-large", 4, 2, 800, 1.0, 100.0, 613.0, 0.0, 613.4, "PointMaze_Large-v3"),
}


def env_spec(name: str) -> EnvSpec:
    """The :class:`EnvSpec` named ``name``; an unknown name is a one-line error listing the valid ones."""
    check_choice("env", name, tuple(ENVS))
    return ENVS[name]


def normalized_score(ret: float | np.ndarray, env: str) -> float | np.ndarray:
    """100 (R - R_min) / (R_max - R_min) with the env's reference scores (D4RL's convention)."""
    s = env_spec(env)
    return 100.0 * (ret - s.ref_min) / (s.ref_max - s.ref_min)


class ChainMDP:
    """The test MDP: H=4 steps, reward 1 at the last step iff the first action was > 0.

    Follows gymnasium's ``reset(seed=) -> (obs, info)`` and ``step(a) -> (obs, r, term, trunc,
    info)``; obs = (t / H, sign of a_0 or 0), float32 (2,).
    """

    horizon = 4

    def __init__(self) -> None:
        self.t, self.first = 0, 0.0

    def _obs(self) -> np.ndarray:
        return np.array([self.t / self.horizon, self.first], dtype=np.float32)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict]:
        self.t, self.first = 0, 0.0
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = float(np.asarray(action).reshape(-1)[0])
        if self.t == 0:
            self.first = 1.0 if a > 0 else -1.0
        self.t += 1
        done = self.t >= self.horizon
        reward = float(self.first > 0) if done else 0.0
        return self._obs(), reward, done, False, {}

    def close(self) -> None:
        pass


def make_env(name: str):
    """A fresh environment: :class:`ChainMDP`, :class:`~.connect4.Connect4Env` or the gymnasium env of the spec (``gymnasium`` and,
    for Hopper/Walker2d, ``mujoco`` must be installed: the ``[envs]`` extra)."""
    spec = env_spec(name)
    if name == "connect4":
        from .connect4 import Connect4Env

        return Connect4Env()
    if name.startswith("maze-"):
        from .maze import PointMazeTask

        return PointMazeTask(name)
    if spec.gym_id is None:
        return ChainMDP()
    try:
        import gymnasium as gym
    except ImportError as err:  # pragma: no cover - the extra is missing
        raise not_allowed("env", name, "it needs gymnasium: pip install 'latent-ebm-lpt-rl[envs]'") from err
    return gym.make(spec.gym_id)


def pendulum_controller(obs: np.ndarray) -> float:
    """Swing-up torque for Pendulum-v1 obs (cos th, sin th, th_dot), th = 0 upright.

    theta'' = (3g / 2l) sin th + 3 u / (m l²) with g=10, m=l=1, so E = th_dot² / 2 + 15 cos th is
    conserved without torque and E = 15 upright at rest: pump with full torque along th_dot while
    E < 15, then balance with PD (10 th + 2 th_dot) once cos th > 0.9.
    """
    c, s, w = (float(v) for v in obs)
    if c > 0.9:
        u = -(10.0 * math.atan2(s, c) + 2.0 * w)
    else:
        energy = 0.5 * w * w + 15.0 * c
        u = 2.0 * math.copysign(1.0, w * (15.0 - energy)) if abs(w) > 1e-3 else 2.0
    return max(-2.0, min(2.0, u))


Policy = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def rollout(env: str, policy: Policy, n_episodes: int, *, seed: int = 0, max_steps: int | None = None,
            pass_rewards: bool = False) -> dict:
    """Run ``n_episodes`` episodes in lockstep with a batched policy.

    ``policy(obs_hist (N, t, obs_dim), act_hist (N, t - 1, act_dim), active (N,) bool)`` returns
    actions (N, act_dim) in [-1, 1] for every episode (rows of finished ones are ignored); it
    sees raw observations and the model-scale actions it took; with ``pass_rewards`` it also gets
    the rewards received so far, ``rew_hist (N, t - 1)``, as a fourth argument (Decision
    Transformer's return-to-go bookkeeping). Episode i is reset with seed
    ``seed + i``. Returns {"returns" (N,), "lengths" (N,), "obs" (N, T, obs_dim) as visited,
    "win_rate" (the fraction of episodes with a positive return: Connect Four's score)}.
    """
    check_int("n_episodes", n_episodes, low=1)
    spec = env_spec(env)
    horizon = spec.max_len if max_steps is None else max_steps
    envs = [make_env(env) for _ in range(n_episodes)]
    obs = np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(envs)]).astype(np.float32)
    obs_hist = np.zeros((n_episodes, horizon + 1, spec.obs_dim), dtype=np.float32)
    act_hist = np.zeros((n_episodes, horizon, spec.act_dim), dtype=np.float32)
    rew_hist = np.zeros((n_episodes, horizon), dtype=np.float32)
    obs_hist[:, 0] = obs
    active = np.ones(n_episodes, dtype=bool)
    returns = np.zeros(n_episodes)
    lengths = np.zeros(n_episodes, dtype=np.int64)
    for t in range(horizon):
        args = (obs_hist[:, : t + 1], act_hist[:, :t], active) + ((rew_hist[:, :t],) if pass_rewards else ())
        actions = np.clip(np.asarray(policy(*args), dtype=np.float32), -1.0, 1.0)
        act_hist[:, t] = actions
        for i, e in enumerate(envs):
            if not active[i]:
                continue
            o, r, term, trunc, _ = e.step(actions[i] * spec.action_high)
            returns[i] += r
            rew_hist[i, t] = r
            lengths[i] += 1
            obs_hist[i, t + 1] = o
            if term or trunc:
                active[i] = False
        if not active.any():
            break
    for e in envs:
        e.close()
    return {"returns": returns, "lengths": lengths, "obs": obs_hist, "win_rate": float((returns > 0).mean())}
