"""Offline trajectories: generated here (chain, pendulum, connect4, PointMaze) or read from a D4RL-format file.

A dataset is D4RL's flat layout (``observations`` (N, ds), ``actions`` (N, da), ``rewards``
(N,), ``terminals`` (N,), ``timeouts`` (N,)), saved as ``.npz``; generated ones are cached under the
core's ``artifact_dir("lpt-rl")`` (never in the data cache, which may be a shared read-only copy). It is cut into episodes at terminals/timeouts; one example
is one whole episode (the LPT code trains on whole episodes), right-padded to ``max_len`` steps:

    {"x": obs (L, ds), "a": actions in [-1, 1] (L, da), "mask": (L,), "y": episode return (raw),
     "rtg": return-to-go from the step rewards (L,) (raw; 0 on padding), "index": position in the training split}

LPT and the final-return baselines read ``y`` only; ``rtg`` is for Decision Transformer with step
rewards (``SequenceBCModule(condition="rtg")``).
"""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from latent_ebm.core.checks import check_int, check_real, not_allowed
from latent_ebm.core.data import artifact_dir, epoch_loader

from .connect4 import connect4_dataset
from .envs import ChainMDP, env_spec, make_env, pendulum_controller

__all__ = ["LPTRLDataModule", "TrajectoryDataset", "chain_dataset", "load_d4rl", "pendulum_dataset", "returns_to_go",
           "split_episodes"]


GENERATED = ("pendulum", "maze-umaze", "maze-medium", "maze-large")  # gym envs with a generator here


def _pack(obs: list, act: list, rew: list, term: list, timeout: list) -> dict[str, np.ndarray]:
    return {"observations": np.asarray(obs, dtype=np.float32), "actions": np.asarray(act, dtype=np.float32),
            "rewards": np.asarray(rew, dtype=np.float32), "terminals": np.asarray(term, dtype=bool),
            "timeouts": np.asarray(timeout, dtype=bool)}


def chain_dataset(n_episodes: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Mixed chain-MDP data: half the episodes open with a_0 ~ N(0.8, 0.1²) (return 1), half with
    N(-0.8, 0.1²) (return 0); later actions are 0.5 sign(a_0) + N(0, 0.1²). Behaviour cloning
    averages the two openings to a_0 near 0; return conditioning can pick either."""
    rng = np.random.default_rng(seed)
    out: tuple[list, ...] = ([], [], [], [], [])
    env = ChainMDP()
    for i in range(n_episodes):
        o, _ = env.reset()
        sign = 1.0 if i % 2 == 0 else -1.0
        for t in range(env.horizon):
            a = np.clip(rng.normal(0.8 * sign if t == 0 else 0.5 * sign, 0.1, size=1), -1, 1)
            o2, r, term, trunc, _ = env.step(a)
            for lst, v in zip(out, (o, a, r, term, trunc)):
                lst.append(v)
            o = o2
    return _pack(*out)


def pendulum_dataset(n_episodes: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Pendulum-v1 episodes (200 steps) of a mixed-skill behaviour: per episode a skill
    p ~ U(0, 1); each step the swing-up controller's torque with probability p, else a uniform
    random torque, plus N(0, 0.1²). Episode i starts from reset seed ``seed * 100_000 + i``."""
    rng = np.random.default_rng(seed)
    env = make_env("pendulum")
    out: tuple[list, ...] = ([], [], [], [], [])
    for i in range(n_episodes):
        o, _ = env.reset(seed=seed * 100_000 + i)
        skill = rng.uniform()
        done = False
        while not done:
            u = pendulum_controller(o) if rng.uniform() < skill else rng.uniform(-2.0, 2.0)
            u = float(np.clip(u + rng.normal(0.0, 0.1), -2.0, 2.0))
            o2, r, term, trunc, _ = env.step(np.array([u], dtype=np.float32))
            done = term or trunc
            for lst, v in zip(out, (o, [u], r, term, trunc)):
                lst.append(v)
            o = o2
    env.close()
    return _pack(*out)


def load_d4rl_path(path: str | Path) -> Path:
    """``path`` as a Path, a relative one also looked up under ``$LATENT_EBM_DATA_DIR/lpt-rl/``;
    a missing file is a one-line error."""
    path = Path(path)
    root = os.environ.get("LATENT_EBM_DATA_DIR")
    if not path.is_file() and not path.is_absolute() and root:
        path = Path(root) / "lpt-rl" / path
    if not path.is_file():
        raise not_allowed("data.path", str(path), "no such file; give a D4RL-format .npz (observations, actions, "
                          "rewards, terminals, timeouts)")
    return path


def load_d4rl(path: str | Path) -> dict[str, np.ndarray]:
    """A D4RL-format ``.npz``; a missing file or key is a one-line error."""
    path = load_d4rl_path(path)
    with np.load(path) as f:
        missing = [k for k in ("observations", "actions", "rewards", "terminals") if k not in f]
        if missing:
            raise not_allowed("data.path", str(path), f"it lacks the D4RL keys {missing}")
        data = {k: f[k] for k in f.files}
    data.setdefault("timeouts", np.zeros_like(data["terminals"]))
    return data


def returns_to_go(rewards: np.ndarray) -> np.ndarray:
    """R_t = sum_{t' >= t} r_t' (float32), Decision Transformer's conditioning signal."""
    r = np.asarray(rewards, dtype=np.float64)
    return np.cumsum(r[::-1])[::-1].astype(np.float32)


def split_episodes(data: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Episodes of a flat D4RL dict: cut after every step with a terminal or timeout flag (a tail
    without one is an episode too); each a dict of the slices of ``observations``, ``actions``,
    ``rewards`` and, where the data has them, ``terminals`` and ``timeouts``."""
    ends = np.flatnonzero(np.asarray(data["terminals"], bool) | np.asarray(data["timeouts"], bool)) + 1
    n = len(data["rewards"])
    if not len(ends) or ends[-1] != n:
        ends = np.append(ends, n)
    starts = np.concatenate([[0], ends[:-1]])
    keys = [k for k in ("observations", "actions", "rewards", "terminals", "timeouts") if k in data]
    return [{k: data[k][s:e] for k in keys} for s, e in zip(starts, ends) if e > s]


class TrajectoryDataset(Dataset):
    """Whole episodes, right-padded to ``max_len`` steps (see the module docstring). Actions are
    divided by ``action_high`` into [-1, 1]; episodes longer than ``max_len`` are cut (their
    return is still the whole episode's)."""

    def __init__(self, episodes: list[dict[str, np.ndarray]], max_len: int, action_high: float) -> None:
        n = len(episodes)
        ds, da = episodes[0]["observations"].shape[1], episodes[0]["actions"].shape[1]
        self.obs = torch.zeros(n, max_len, ds)
        self.act = torch.zeros(n, max_len, da)
        self.mask = torch.zeros(n, max_len)
        self.ret = torch.zeros(n)
        self.rtg = torch.zeros(n, max_len)
        for i, ep in enumerate(episodes):
            t = min(len(ep["rewards"]), max_len)
            self.rtg[i, :t] = torch.as_tensor(returns_to_go(ep["rewards"])[:t])
            self.obs[i, :t] = torch.as_tensor(ep["observations"][:t])
            self.act[i, :t] = torch.as_tensor(ep["actions"][:t] / action_high).clamp(-1, 1)
            self.mask[i, :t] = 1.0
            self.ret[i] = float(np.sum(ep["rewards"]))

    def __len__(self) -> int:
        return len(self.ret)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.obs[i], "a": self.act[i], "mask": self.mask[i], "y": self.ret[i], "rtg": self.rtg[i],
                "index": torch.tensor(i)}

    def obs_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std (ds,) of the observations over valid steps (the LPT code z-scores states)."""
        m = self.mask.bool()
        valid = self.obs[m]
        return valid.mean(0), valid.std(0).clamp_min(1e-3)


class _Targets(Dataset):
    def __init__(self, targets: torch.Tensor) -> None:
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"target": self.targets[i], "index": torch.tensor(i)}


class LPTRLDataModule(L.LightningDataModule):
    """Train / validation splits of an offline dataset (test = validation: there is no third split).

    Args: env (``chain``, ``pendulum``, ``connect4``, ``maze-{umaze,medium,large}``, ``hopper``, ``walker2d``), n_episodes (generated
        datasets), path (a D4RL-format ``.npz``; required for hopper/walker2d, optional
        otherwise), val_fraction, batch_size (whole episodes; the LPT code: 500), seed,
        predict_n (episodes ``predict`` rolls out, at targets spread over the data's returns).
    """

    def __init__(self, env: str = "chain", n_episodes: int = 256, path: str | None = None, val_fraction: float = 0.1,
                 batch_size: int = 32, seed: int = 0, predict_n: int = 8) -> None:
        super().__init__()
        self.spec = env_spec(env)
        check_int("n_episodes", n_episodes, low=2)
        check_real("val_fraction", val_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
        check_int("batch_size", batch_size, low=1)
        check_int("seed", seed, low=0)
        check_int("predict_n", predict_n, low=1)
        if path is None and self.spec.gym_id is not None and env not in GENERATED:
            raise not_allowed("data.path", path, f"env={env!r} has no generator here; give a D4RL-format .npz")
        self.env, self.predict_n = env, predict_n
        if path is not None:  # sizes only (array headers): a wrong file fails here, in one line
            with np.load(load_d4rl_path(path)) as f:
                ds, da = f["observations"].shape[-1], f["actions"].shape[-1]
            if (ds, da) != (self.spec.obs_dim, self.spec.act_dim):
                raise not_allowed("data.path", str(path), f"its observations/actions have sizes {ds}/{da}, "
                                  f"env={env!r} has {self.spec.obs_dim}/{self.spec.act_dim}")
        self.save_hyperparameters()

    def cache_path(self) -> Path:
        h = self.hparams
        kind = "waypoint" if h.env.startswith("maze-") else "mixed"
        return artifact_dir("lpt-rl") / f"{h.env}-{kind}-{h.n_episodes}-s{h.seed}.npz"

    def load(self) -> dict[str, np.ndarray]:
        """The flat dataset: from ``path``, generated (chain: in memory), or from the cache."""
        h = self.hparams
        if h.path is not None:
            return load_d4rl(h.path)
        if h.env == "chain":
            return chain_dataset(h.n_episodes, h.seed)
        cache = self.cache_path()
        if cache.is_file():
            return load_d4rl(cache)
        if h.env.startswith("maze-"):
            from .maze import maze_dataset

            data = maze_dataset(h.env, h.n_episodes, h.seed)
        else:
            data = (connect4_dataset if h.env == "connect4" else pendulum_dataset)(h.n_episodes, h.seed)
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **data)
            tmp.replace(cache)
        except OSError:  # a read-only data dir: keep the generated data in memory only
            pass
        return data

    def prepare_data(self) -> None:
        self.load()

    def setup(self, stage: str | None = None) -> None:
        if getattr(self, "train_set", None) is not None:
            return
        episodes = split_episodes(self.load())
        if episodes[0]["observations"].shape[1] != self.spec.obs_dim or episodes[0]["actions"].shape[1] != self.spec.act_dim:
            raise not_allowed("data.path", self.hparams.path or self.env,
                              f"its observations/actions have sizes {episodes[0]['observations'].shape[1]}/"
                              f"{episodes[0]['actions'].shape[1]}, env={self.env!r} has {self.spec.obs_dim}/{self.spec.act_dim}")
        g = torch.Generator().manual_seed(self.hparams.seed)
        perm = torch.randperm(len(episodes), generator=g).tolist()
        n_val = max(1, round(self.hparams.val_fraction * len(episodes)))
        if n_val >= len(episodes):
            raise not_allowed("val_fraction", self.hparams.val_fraction, "it leaves no training episode")
        make = lambda ids: TrajectoryDataset([episodes[i] for i in ids], self.spec.max_len, self.spec.action_high)  # noqa: E731
        self.val_set, self.train_set = make(perm[:n_val]), make(perm[n_val:])
        # the same training split as flat episodes (for d3rlpy's MDPDataset: offline.to_mdp_dataset)
        self.train_episodes = [episodes[i] for i in perm[n_val:]]

    def train_dataloader(self) -> DataLoader:
        # (seed, epoch)-keyed order that resumes exactly, in mid-epoch too (the core's epoch_loader)
        return epoch_loader(self.train_set, self.hparams.batch_size, seed=self.hparams.seed, trainer=self.trainer)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def predict_dataloader(self) -> DataLoader:
        """``predict_n`` planning targets (raw returns) evenly spread from the training data's
        lowest return to its highest (a calibration sweep)."""
        self.setup("predict")
        ret = self.train_set.ret
        targets = torch.linspace(float(ret.min()), float(ret.max()), self.predict_n)
        return DataLoader(_Targets(targets), batch_size=self.predict_n)
