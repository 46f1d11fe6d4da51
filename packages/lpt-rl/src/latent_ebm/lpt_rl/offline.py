"""CQL and IQL from d3rlpy on this package's offline data (the issue's model-free baselines;
``pip install 'latent-ebm-lpt-rl[baselines]'``).

The episodes every other method trains on (:meth:`LPTRLDataModule.setup`'s training split) are
converted to a d3rlpy ``MDPDataset`` (:func:`to_mdp_dataset`) and one of d3rlpy's algorithms is
fitted on it offline with its own training loop (d3rlpy owns its loop: these are not Lightning
modules; ``latent-ebm-lpt-rl offline`` (:mod:`.offline_cli`) and the benchmarks run them):

- ``cql``: Conservative Q-Learning (Kumar et al., NeurIPS 2020), d3rlpy ``CQL`` (SAC actor, twin
  critics, the conservative penalty alpha (logsumexp_a Q - Q(s, a_data)) with a Lagrangian alpha);
- ``iql``: Implicit Q-Learning (Kostrikov et al., ICLR 2022), d3rlpy ``IQL`` (expectile value,
  advantage-weighted actor). d3rlpy's IQL is continuous-action only;
- ``discrete_cql``: d3rlpy ``DiscreteCQL`` (a DQN with the conservative penalty) for Connect Four,
  whose moves are discrete: the action is the column (the argmax of the data's ``2 onehot - 1``).

Continuous actions are the model-scale ones every method here uses (env action / ``action_high``,
in [-1, 1]; Connect Four's ``2 onehot - 1`` vectors for ``cql``/``iql``, played as the legal column
with the highest output). Observations are standardised by d3rlpy's ``StandardObservationScaler``
where the env's spec z-scores them (not Connect Four's stone planes). The policies act on the last
observation only (Markov; the chain MDP's observation carries the sign of a_0 for that reason).

d3rlpy pins: 2.8.1 requires ``gymnasium==1.0.0`` (the maze extra needs 1.4), so the extra asks for
``d3rlpy>=2.6,!=2.8.1`` (2.8.0 accepts gymnasium 1.4 and is the version tested here).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence

import numpy as np

from latent_ebm.core.checks import check_choice, check_int, not_allowed

from .envs import env_spec, rollout

__all__ = ["ALGOS", "OfflineRLBaseline", "baseline_settings", "quiet_d3rlpy", "to_mdp_dataset"]

ALGOS = ("cql", "iql", "discrete_cql")


def _d3rlpy():
    try:
        import d3rlpy
    except ImportError as err:  # pragma: no cover - the extra is missing
        raise not_allowed("algo", "d3rlpy", "it is not installed: pip install 'latent-ebm-lpt-rl[baselines]'") from err
    return d3rlpy


def quiet_d3rlpy() -> None:
    """Silence d3rlpy's per-step info lines (structlog below WARNING)."""
    import logging

    import structlog

    _d3rlpy()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def baseline_settings(env: str, method: str) -> dict:
    """:class:`OfflineRLBaseline` arguments the CLI and the benchmarks use for ``method`` (``cql`` or
    ``iql``) on ``env``: d3rlpy's defaults except MLPs of (64, 64) (the data are small), batch 64, and

    - CQL: CQL's Gym-MuJoCo setting, a fixed conservative weight alpha = 5 (no Lagrangian:
      ``alpha_learning_rate=0``); on Connect Four ``DiscreteCQL`` (alpha 1, lr 3e-4, target
      copied every 100 steps: d3rlpy's 6.25e-5 / 8000 are Atari's, for millions of steps);
    - IQL: d3rlpy's defaults (expectile 0.7, temperature 3, IQL's MuJoCo setting); continuous
      only, so on Connect Four it acts on the ``2 onehot - 1`` encoding the sequence models use.
    """
    check_choice("method", method, ("cql", "iql"))
    kw = dict(env=env, batch_size=64, hidden=(64, 64))
    if method == "cql" and env == "connect4":
        return kw | dict(algo="discrete_cql", target_update_interval=100, config=dict(learning_rate=3e-4, alpha=1.0))
    if method == "cql":
        return kw | dict(algo="cql", config=dict(conservative_weight=5.0, alpha_learning_rate=0.0))
    return kw | dict(algo="iql")


def to_mdp_dataset(episodes: Sequence[dict[str, np.ndarray]], env: str, *, discrete: bool = False):
    """A d3rlpy ``MDPDataset`` of ``episodes`` (:func:`~.data.split_episodes`' dicts): actions scaled
    to [-1, 1] (or, ``discrete``, the argmax index), each episode ending in a terminal when its
    last step had one (a dict without ``terminals`` counts as terminal) and in a timeout otherwise."""
    d3rlpy = _d3rlpy()
    spec = env_spec(env)
    if not episodes:
        raise not_allowed("episodes", 0, "need at least one episode")
    obs, act, rew, term, tout = [], [], [], [], []
    for ep in episodes:
        n = len(ep["rewards"])
        ended = bool(np.asarray(ep.get("terminals", np.ones(n)))[-1])
        a = np.clip(np.asarray(ep["actions"], np.float32) / spec.action_high, -1.0, 1.0)
        obs.append(np.asarray(ep["observations"], np.float32))
        act.append(a.argmax(1).astype(np.int64) if discrete else a)
        rew.append(np.asarray(ep["rewards"], np.float32))
        last = np.zeros(n, np.float32)
        last[-1] = 1.0
        term.append(last if ended else np.zeros(n, np.float32))
        tout.append(np.zeros(n, np.float32) if ended else last)
    space = d3rlpy.ActionSpace.DISCRETE if discrete else d3rlpy.ActionSpace.CONTINUOUS
    return d3rlpy.dataset.MDPDataset(np.concatenate(obs), np.concatenate(act), np.concatenate(rew)[:, None],
                                     np.concatenate(term), timeouts=np.concatenate(tout), action_space=space,
                                     action_size=spec.act_dim if discrete else None)


class OfflineRLBaseline:
    """One of d3rlpy's offline algorithms on this package's data, acting through :func:`~.envs.rollout`.

    Args: env, algo (``cql``, ``iql``, ``discrete_cql``), n_steps (gradient steps), batch_size,
        hidden (units of every MLP encoder; d3rlpy's default is (256, 256)), gamma, seed,
        target_update_interval (``discrete_cql`` only: d3rlpy's default 8000 is for Atari-length
        runs), config (other fields of the d3rlpy config, e.g. ``conservative_weight``, ``expectile``).
    """

    def __init__(self, env: str, algo: str = "cql", *, n_steps: int = 2000, batch_size: int = 64,
                 hidden: Sequence[int] = (64, 64), gamma: float = 0.99, seed: int = 0, target_update_interval: int = 100,
                 config: dict | None = None) -> None:
        check_choice("algo", algo, ALGOS)
        check_int("n_steps", n_steps, low=1)
        check_int("batch_size", batch_size, low=1)
        check_int("seed", seed, low=0)
        self.spec = env_spec(env)
        if algo == "discrete_cql" and env != "connect4":
            raise not_allowed("algo", algo, f"env={env!r} has continuous actions; use cql or iql")
        self.env, self.algo_name, self.n_steps, self.seed = env, algo, n_steps, seed
        d3rlpy = _d3rlpy()
        enc = d3rlpy.models.VectorEncoderFactory(hidden_units=list(hidden))
        scaler = d3rlpy.preprocessing.StandardObservationScaler() if self.spec.normalize_obs else None
        common = dict(batch_size=batch_size, gamma=gamma, observation_scaler=scaler, **(config or {}))
        if algo == "cql":
            cfg = d3rlpy.algos.CQLConfig(actor_encoder_factory=enc, critic_encoder_factory=enc, **common)
        elif algo == "iql":
            cfg = d3rlpy.algos.IQLConfig(actor_encoder_factory=enc, critic_encoder_factory=enc,
                                         value_encoder_factory=enc, **common)
        else:
            cfg = d3rlpy.algos.DiscreteCQLConfig(encoder_factory=enc, target_update_interval=target_update_interval,
                                                 **common)
        self.config = cfg
        self.algo = None

    @property
    def discrete(self) -> bool:
        return self.algo_name == "discrete_cql"

    def fit(self, episodes: Sequence[dict[str, np.ndarray]]) -> OfflineRLBaseline:
        """Fit on ``episodes`` for ``n_steps`` gradient steps (seeded; no files written)."""
        d3rlpy = _d3rlpy()
        d3rlpy.seed(self.seed)
        data = to_mdp_dataset(episodes, self.env, discrete=self.discrete)
        self.algo = self.config.create(device=False)
        with tempfile.TemporaryDirectory() as tmp:
            self.algo.fit(data, n_steps=self.n_steps, n_steps_per_epoch=self.n_steps, show_progress=False,
                          save_interval=self.n_steps + 1, logger_adapter=d3rlpy.logging.NoopAdapterFactory(),
                          experiment_name=f"{tmp}/run")
        return self

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Model-scale actions (N, act_dim) in [-1, 1] for observations (N, obs_dim). ``discrete_cql``:
        the columns' Q-values as ranks spread over [-1, 1] (the env plays the legal column ranked highest)."""
        if self.algo is None:
            raise not_allowed("algo", self.algo_name, "call fit() before acting")
        obs = np.asarray(obs, np.float32)
        if not self.discrete:
            return np.asarray(self.algo.predict(obs), np.float32).reshape(len(obs), self.spec.act_dim)
        k = self.spec.act_dim
        q = np.stack([self.algo.predict_value(obs, np.full(len(obs), j, np.int64)) for j in range(k)], 1)
        ranks = q.argsort(1, kind="stable").argsort(1, kind="stable")
        return (2.0 * ranks / (k - 1) - 1.0).astype(np.float32)

    def evaluate(self, n_episodes: int, seed: int = 0) -> dict:
        """``n_episodes`` rollouts (:func:`~.envs.rollout`; reset seeds ``seed + i``)."""
        return rollout(self.env, lambda obs, _act, _active: self.act(obs[:, -1]), n_episodes, seed=seed)
