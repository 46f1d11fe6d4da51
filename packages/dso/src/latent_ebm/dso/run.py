"""``latent-ebm-dso design --config tiny|demo|paper|<path>``: train (or load) an LPT, run the
dual-space loop under an oracle budget, write what it did.

A design config (``configs/design/*.yaml``) holds: ``objective`` (an lpt-mol oracle name or
``esr1``/``acaa1``), ``mode`` (``dso``, ``latent_only``, ``data_only``), ``budget`` (oracle calls),
``seed``, ``substructure`` (a SMILES forced as the SELFIES prefix, or null), ``data`` and ``model``
(``DSODataModule`` / ``DSOModule`` arguments), ``pretrain_steps`` / ``finetune_steps`` (the LPT's
two learning phases before the loop) or ``checkpoint`` (a ``latent-ebm-dso fit`` checkpoint in
phase finetune instead), and ``loop`` (``ShiftConfig`` fields over the DSO preset).

Outputs, under ``--out`` (default ``runs/dso/design/<config>-<mode>-seed<seed>``): ``rounds.tsv``,
``designs.tsv``, ``summary.json`` and ``last_round.pt``, which ``--resume`` continues from.
"""
from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from dataclasses import fields
from pathlib import Path

import lightning as L
import torch
import yaml

from latent_ebm.core.checks import check_int, not_allowed
from latent_ebm.core.cli import resolve_config
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.lpt_mol.data import SelfiesVocab
from latent_ebm.lpt_mol.shift import ShiftConfig

from .data import DSODataModule
from .loop import (
    DOCKING_TARGETS,
    DSO,
    MODES,
    check_objective,
    loop_config,
    make_oracle,
    resume,
    run_dso,
    substructure_prefix,
    summarise,
    write_outputs,
)
from .model import DSOModule

__all__ = ["design_main", "load_settings", "prepare_model", "run_design", "seed_molecules"]

DESIGN_CONFIGS = "latent_ebm.dso.configs.design"
_KEYS = {"objective", "mode", "budget", "seed", "substructure", "data", "model", "pretrain_steps", "finetune_steps",
         "checkpoint", "loop"}
_LOOP_FIELDS = {f.name for f in fields(ShiftConfig)}


def load_settings(config: str) -> dict:
    """A design config by shipped name or path, checked: unknown keys and values in one line."""
    with ExitStack() as stack:
        path = resolve_config(config, DESIGN_CONFIGS, stack)
        s = yaml.safe_load(Path(path).read_text()) or {}
    unknown = sorted(set(s) - _KEYS)
    if unknown:
        raise not_allowed("config", unknown[0], f"known keys are {sorted(_KEYS)}")
    s.setdefault("mode", "dso")
    s.setdefault("seed", 0)
    s.setdefault("substructure", None)
    s.setdefault("loop", {})
    check_objective(s.get("objective"))
    if s["objective"] in DOCKING_TARGETS:
        raise not_allowed("objective", s["objective"], "docking is not wired into `design` (its fine-tuning labels and "
                          "round-0 seeds are not offline); run it through the API, loop.make_oracle + loop.run_dso")
    check_int("seed", s["seed"])
    bad = sorted(set(s["loop"]) - _LOOP_FIELDS)
    if bad:
        raise not_allowed("loop", bad[0], f"known loop settings are {sorted(_LOOP_FIELDS)}")
    return s


def _loop(s: dict) -> ShiftConfig:
    loop = dict(s["loop"])
    for key in ("design_langevin", "infer_langevin"):
        if isinstance(loop.get(key), dict):
            loop[key] = LangevinSchedule(**loop[key])
    if "ring_sizes" in loop and loop["ring_sizes"] is not None:
        loop["ring_sizes"] = tuple(loop["ring_sizes"])
    return loop_config(s["mode"], DSO, **loop)


def _fit(model: DSOModule, dm: DSODataModule, phase: str, steps: int) -> None:
    if steps <= 0:
        return
    model.hparams.phase = phase
    L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, inference_mode=False, limit_val_batches=0, num_sanity_val_steps=0,
              accelerator="cpu", devices=1).fit(model, train_dataloaders=dm.train_dataloader())


def prepare_model(s: dict) -> tuple[DSOModule, DSODataModule]:
    """The LPT the loop starts from: loaded from ``checkpoint``, or pretrained on x for
    ``pretrain_steps`` then fine-tuned on (x, y) for ``finetune_steps`` (the LPT code's two phases).
    One property head per entry of ``properties`` (multi-objective design), else one for ``objective``."""
    props = tuple(s.get("properties") or (s["objective"],))
    dm = DSODataModule(**{**s.get("data", {}), "properties": props})
    dm.setup("fit")
    if s.get("checkpoint"):
        model = DSOModule.load_from_checkpoint(s["checkpoint"], map_location="cpu", weights_only=True)
        return model, dm
    torch.manual_seed(s["seed"])
    model = DSOModule(**{**s.get("model", {}), "vocab_size": len(dm.vocab), "properties": props})
    model.vocab_state = dm.vocab.state_dict()
    _fit(model, dm, "pretrain", int(s.get("pretrain_steps", 0)))
    _fit(model, dm, "finetune", int(s.get("finetune_steps", 0)))
    model.hparams.phase = "finetune"
    return model, dm


def seed_molecules(dm: DSODataModule) -> list[tuple[str, float]]:
    """Scored molecules that seed round 0: the data's test split (the released loop's choice),
    else its validation split, with their offline property values (raw units)."""
    idx = dm.test_idx if len(getattr(dm, "test_idx", [])) else dm.val_idx
    ys = dm.test_set.y if len(getattr(dm, "test_idx", [])) else dm.val_set.y
    return [(dm.smiles[int(i)], float(y[0])) for i, y in zip(idx, ys)]


def run_design(s: dict, out: str | Path, *, resume_from: str | Path | None = None, budget: int | None = None,
               log=print) -> dict:
    """Run one design loop from settings ``s``; returns the summary (also written under ``out``)."""
    start = time.perf_counter()
    cfg = _loop(s)
    budget = int(budget if budget is not None else s.get("budget", 0))
    oracle = make_oracle(s["objective"], budget)
    g = torch.Generator().manual_seed(int(s["seed"]))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if resume_from is not None:
        model, vocab, state = resume(resume_from, oracle, g)
        seeds = None
        log(f"resumed at round {state.round} with {oracle.calls} of {oracle.budget} oracle calls spent")
    else:
        model, dm = prepare_model(s)
        vocab, state = SelfiesVocab.from_state(model.vocab_state), None
        seeds = seed_molecules(dm)
    prefix = substructure_prefix(s.get("substructure"), vocab)
    if prefix is not None:
        cfg = loop_config(s["mode"], cfg, prefix=prefix)
    torch.manual_seed(int(s["seed"]))
    state = run_dso(model, vocab, oracle, seeds or [], cfg, state=state, generator=g, save_to=out / "last_round.pt")
    summary = {"objective": s["objective"], "mode": s["mode"], "seed": s["seed"], "rounds": state.round,
               "ring_filter_rejected": state.rejected, **summarise(oracle, oracle.budget or oracle.calls),
               "best": oracle.top_k(3), "seconds": time.perf_counter() - start}
    paths = write_outputs(out, oracle, state, summary)
    for row in state.log:
        log(f"round {row['round']:3d}  calls {row['calls']:6d}  failed {row['failures']:3d}  "
            f"pool mean {row['pool_mean']:.4f}  best {row['pool_best']:.4f}")
    log(f"{s['mode']} on {s['objective']}: {oracle.calls}/{oracle.budget} calls, top-1 {summary['top1']}, "
        f"top-10 AUC {summary['top10_auc']:.4f}; wrote {', '.join(str(p) for p in [*paths, out / 'last_round.pt'])}")
    return summary


def design_main(argv: list[str]) -> dict:
    ap = argparse.ArgumentParser(prog="latent-ebm-dso design", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="tiny, demo, paper or a YAML path")
    ap.add_argument("--mode", choices=sorted(MODES), help="dso or one of its single-space ablations")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--budget", type=int, help="oracle calls (default: the config's)")
    ap.add_argument("--out", help="output folder")
    ap.add_argument("--resume", help="a last_round.pt to continue from")
    args = ap.parse_args(argv)
    s = load_settings(args.config)
    for key in ("mode", "seed"):
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    name = Path(args.config).stem
    out = args.out or f"runs/dso/design/{name}-{s['mode']}-seed{s['seed']}"
    return run_design(s, out, resume_from=args.resume, budget=args.budget,
                      log=lambda m: print(m, file=sys.stderr))
