"""``latent-ebm-lpt-rl offline --config NAME --algo cql|iql``: d3rlpy's CQL / IQL through the
package's command, on the same data as LPT.

The config's ``data:`` section builds the same :class:`~.data.LPTRLDataModule` (same env, episodes,
split and seed) that ``fit`` uses; its training split becomes a d3rlpy ``MDPDataset``
(:func:`~.offline.to_mdp_dataset`) and the algorithm is fitted with the settings of
:func:`~.offline.baseline_settings` (Connect Four's ``cql`` is ``DiscreteCQL``), then rolled out as
LPT's test is (reset seeds 10000 + i). d3rlpy owns its training loop (so no Lightning checkpoints:
the run is minutes); it writes ``<out>/model.d3`` (``d3rlpy.load_learnable`` reads it) and
``<out>/results.json`` (returns, normalised scores, win rate on Connect Four).
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import NoReturn

import numpy as np
import yaml

from latent_ebm.core.checks import check_choice, check_int, not_allowed
from latent_ebm.core.cli import resolve_config

from .data import LPTRLDataModule
from .envs import normalized_score

__all__ = ["offline_main"]

TEST_SEED = 10_000  # LPTRLModule's test rollouts use the same reset seeds


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="latent-ebm-lpt-rl offline", exit_on_error=False, allow_abbrev=False,
                                description="Fit d3rlpy's CQL or IQL on a config's offline data and roll it out.")
    p.add_argument("--config", "-c", help="a shipped config name (tiny, demo, connect4, ...) or a YAML path")
    p.add_argument("--algo", default="cql", help="cql (DiscreteCQL on connect4) or iql")
    p.add_argument("--n_steps", type=int, default=1000, help="gradient steps (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--episodes", type=int, default=None, help="evaluation episodes (default: the config's test_episodes)")
    p.add_argument("--out", default=None, help="output folder (default runs/lpt-rl/offline/<env>-<algo>-s<seed>)")
    return p


def _exit(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _config(value: str, stack: ExitStack) -> dict:
    """The YAML config ``value`` (a path or a shipped name) as a dict with a ``data`` section."""
    path = resolve_config(value, "latent_ebm.lpt_rl.configs", stack)
    cfg = yaml.safe_load(Path(path).read_text())
    if not isinstance(cfg, dict) or not isinstance(cfg.get("data"), dict):
        raise not_allowed("config", value, "it needs a data: section (LPTRLDataModule's arguments)")
    return cfg


def offline_main(argv: list[str]) -> dict:
    """Run the subcommand on ``argv`` (the words after ``offline``); returns the results dict.
    Bad input exits with status 2 and one ``error:`` line, as the Lightning subcommands do."""
    try:
        args, extra = _parser().parse_known_args(argv)
    except argparse.ArgumentError as err:
        _exit(str(err))
    if extra:
        _exit(f"unrecognized arguments: {' '.join(extra)} (see latent-ebm-lpt-rl offline --help)")
    if args.config is None:
        _exit("offline needs --config (a shipped config name or a YAML path)")
    try:
        from .offline import OfflineRLBaseline, baseline_settings, quiet_d3rlpy

        check_choice("algo", args.algo, ("cql", "iql"))
        check_int("n_steps", args.n_steps, low=1)
        check_int("seed", args.seed, low=0)
        with ExitStack() as stack:
            cfg = _config(args.config, stack)
        model_args = (cfg.get("model") or {}).get("init_args", cfg.get("model") or {})
        episodes = args.episodes if args.episodes is not None else int(model_args.get("test_episodes", 10))
        check_int("episodes", episodes, low=1)
        dm = LPTRLDataModule(**cfg["data"])
        dm.prepare_data()
        dm.setup("fit")
        quiet_d3rlpy()
        baseline = OfflineRLBaseline(**baseline_settings(dm.env, args.algo), n_steps=args.n_steps, seed=args.seed)
    except (ValueError, TypeError) as err:
        _exit(str(err))
    baseline.fit(dm.train_episodes)
    out = baseline.evaluate(episodes, seed=TEST_SEED)
    folder = Path(args.out or Path("runs") / "lpt-rl" / "offline" / f"{dm.env}-{args.algo}-s{args.seed}")
    folder.mkdir(parents=True, exist_ok=True)
    baseline.algo.save(str(folder / "model.d3"))
    results = {"env": dm.env, "algo": baseline.algo_name, "n_steps": args.n_steps, "seed": args.seed,
               "config": args.config, "train_episodes": len(dm.train_episodes), "episodes": episodes,
               "returns": np.asarray(out["returns"]).tolist(),
               "return": float(np.mean(out["returns"])),
               "score": float(np.mean(normalized_score(out["returns"], dm.env))),
               "win_rate": float(out["win_rate"])}
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"{baseline.algo_name} on {dm.env} ({args.n_steps} steps, seed {args.seed}): return "
          f"{results['return']:.3f}, score {results['score']:.1f} over {episodes} episodes -> {folder}")
    return results
