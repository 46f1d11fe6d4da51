"""``latent-ebm-dso design --config tiny|demo|paper|<path>``: train (or load) an LPT, run the
dual-space loop under an oracle budget, write what it did.

A design config (``configs/design/*.yaml``) holds: ``objective`` (an lpt-mol oracle name or
``esr1``/``acaa1``), ``mode`` (``dso``, ``latent_only``, ``data_only``), ``budget`` (oracle calls),
``seed``, ``substructure`` (a SMILES forced as the SELFIES prefix, or null), ``data`` and ``model``
(``DSODataModule`` / ``DSOModule`` arguments), ``pretrain_steps`` / ``finetune_steps`` (the LPT's
two learning phases before the loop) or ``checkpoint`` (a ``latent-ebm-dso fit`` checkpoint in
phase finetune instead), and ``loop`` (``ShiftConfig`` fields over the DSO preset).

Two optional blocks (at most one of them) turn the run into a constrained or multi-objective design:

- ``multi_objective``: ``properties`` (one LPT head each, RDKit oracles, QED and SA among them),
  ``weights`` (one per property: the weighted design energy, ``DSOModule.objective_weights``),
  ``qed_min`` / ``sa_max`` (LIMO's filter, 0.4 / 5.5) and ``top_k`` (LIMO's report, 2). The pool is
  ranked by ``objective`` among molecules passing the filter (``loop.LimoObjective``); ``loop.shift``
  may give one shift per property. The summary adds ``limo``: the top ``top_k`` after the filter.
- ``similarity``: ``start`` (a SMILES, or null: the lowest-pLogP held-out molecule), ``delta``
  (the Tanimoto threshold the ranking enforces, 0.4), ``anchor_weight`` (lambda of the similarity
  term (lambda/2)|z0 - z0(start)|^2 in the design energy, 1.0) and ``report`` (thresholds of the
  summary, [0.4, 0.6]). JT-VAE's constrained pLogP improvement (``loop.SimilarityObjective``):
  ``objective`` must be ``plogp``; the pool is seeded with the start molecule alone.

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
import selfies as sf
import torch
import yaml

from latent_ebm.core.checks import check_int, check_real, not_allowed, require
from latent_ebm.core.cli import resolve_config
from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.lpt_mol.data import SelfiesVocab
from latent_ebm.lpt_mol.oracles import Oracle
from latent_ebm.lpt_mol.shift import ShiftConfig

from .data import DSODataModule
from .loop import (
    DOCKING_TARGETS,
    DSO,
    MODES,
    LimoObjective,
    SimilarityObjective,
    check_objective,
    limo_summary,
    loop_config,
    make_oracle,
    resume,
    run_dso,
    similarity_summary,
    substructure_prefix,
    summarise,
    write_outputs,
)
from .model import DSOModule, check_weights

__all__ = ["design_main", "load_settings", "prepare_model", "run_design", "seed_molecules"]

DESIGN_CONFIGS = "latent_ebm.dso.configs.design"
_KEYS = {"objective", "mode", "budget", "seed", "substructure", "data", "model", "pretrain_steps", "finetune_steps",
         "checkpoint", "loop", "multi_objective", "similarity"}
MULTI_DEFAULTS = {"properties": None, "weights": None, "qed_min": 0.4, "sa_max": 5.5, "top_k": 2}
SIMILARITY_DEFAULTS = {"start": None, "delta": 0.4, "anchor_weight": 1.0, "report": [0.4, 0.6]}
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
    bad = sorted(set(s["loop"]) - _LOOP_FIELDS - {"objectives", "anchor_weight"})
    if bad:
        raise not_allowed("loop", bad[0], f"known loop settings are {sorted(_LOOP_FIELDS - {'objectives', 'anchor_weight'})}")
    if s.get("multi_objective") is not None and s.get("similarity") is not None:
        raise not_allowed("config", "multi_objective + similarity", "give one of the two design blocks, not both")
    if s.get("multi_objective") is not None:
        s["multi_objective"] = _block("multi_objective", s["multi_objective"], MULTI_DEFAULTS)
        _check_multi(s["objective"], s["multi_objective"])
    if s.get("similarity") is not None:
        s["similarity"] = _block("similarity", s["similarity"], SIMILARITY_DEFAULTS)
        _check_similarity(s)
    return s


def _block(name: str, block, defaults: dict) -> dict:
    """A design block over its defaults; unknown keys are one-line errors."""
    require(name, block, isinstance(block, dict), f"give a mapping with keys {sorted(defaults)}")
    unknown = sorted(set(block) - set(defaults))
    if unknown:
        raise not_allowed(f"{name}.{unknown[0]}", block[unknown[0]], f"known keys are {sorted(defaults)}")
    return {**defaults, **block}


def _check_multi(objective: str, m: dict) -> None:
    props = m["properties"]
    require("multi_objective.properties", props, isinstance(props, list | tuple) and len(props) >= 2,
            "give a list of at least two properties, QED and SA among them (LIMO's filter)")
    check_real("multi_objective.qed_min", m["qed_min"], low=0.0, high=1.0)
    check_real("multi_objective.sa_max", m["sa_max"], low=1.0, high=10.0)
    check_int("multi_objective.top_k", m["top_k"], low=1)
    others = [q for q in props if q not in ("qed", "sa")]
    require("objective", objective, objective in others,
            f"in multi-objective design it is the property ranked after LIMO's filter: one of {others}")
    try:  # the properties, QED and SA among them, and the primary (``objective``) among the others
        LimoObjective(tuple(props), objective, qed_min=m["qed_min"], sa_max=m["sa_max"])
    except ValueError as err:
        raise ValueError(f"multi_objective.{err}") from None
    weights = check_weights(m["weights"], props, name="multi_objective.weights")
    m["weights"] = None if weights is None else list(weights)


def _check_similarity(s: dict) -> None:
    c = s["similarity"]
    require("objective", s["objective"], s["objective"] == "plogp",
            "similarity-constrained design improves pLogP (JT-VAE's protocol): use objective: plogp")
    if c["start"] is not None:
        try:  # a valid SMILES
            SimilarityObjective(c["start"], 0.0)
        except ValueError as err:
            raise ValueError(f"similarity.{err}") from None
    check_real("similarity.delta", c["delta"], low=0.0, high=1.0)
    check_real("similarity.anchor_weight", c["anchor_weight"], low=0.0)
    report = c["report"]
    require("similarity.report", report, isinstance(report, list | tuple) and len(report) > 0,
            "give a list of similarity thresholds in [0, 1]")
    for d in report:
        check_real("similarity.report", d, low=0.0, high=1.0)
    require("loop.seeding", s["loop"].get("seeding"), s["loop"].get("seeding", "pool") == "pool",
            "similarity design seeds the pool with its start molecule: leave seeding out or give pool")


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
    multi = s.get("multi_objective") or {}
    props = tuple(multi.get("properties") or s.get("properties") or (s["objective"],))
    weights = multi.get("weights")
    dm = DSODataModule(**{**s.get("data", {}), "properties": props})
    dm.setup("fit")
    if s.get("checkpoint"):
        model = DSOModule.load_from_checkpoint(s["checkpoint"], map_location="cpu", weights_only=True)
        require("checkpoint", s["checkpoint"], tuple(model.hparams.properties) == props,
                f"its property heads {list(model.hparams.properties)} are not the design's {list(props)}")
        if weights is not None:  # the design's weights over the checkpoint's
            model.hparams.objective_weights = tuple(weights)
            model.objective_weight = torch.tensor(weights, dtype=torch.float32)
        return model, dm
    torch.manual_seed(s["seed"])
    model_args = {**s.get("model", {}), "vocab_size": len(dm.vocab), "properties": props}
    if weights is not None:
        model_args["objective_weights"] = tuple(weights)
    model = DSOModule(**model_args)
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
    multi, sim = s.get("multi_objective"), s.get("similarity")
    scorer = None
    if multi is not None:
        scorer = LimoObjective(tuple(multi["properties"]), s["objective"], qed_min=multi["qed_min"],
                               sa_max=multi["sa_max"])
    elif sim is not None and sim["start"] is not None:
        scorer = SimilarityObjective(sim["start"], sim["delta"])
    oracle = make_oracle(s["objective"], budget) if scorer is None else Oracle(scorer, budget=budget)
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
        if sim is not None and scorer is None:  # the lowest-pLogP held-out molecule
            scorer = SimilarityObjective(min(seeds, key=lambda t: t[1])[0], sim["delta"])
            oracle = Oracle(scorer, budget=budget)
    if sim is not None:
        if scorer is None:  # resumed without a start in the config: the saved anchor's start
            raise not_allowed("similarity.start", None, "give the start molecule of the run to resume")
        try:  # the start's latent is inferred by p(z0 | x0, y0): the model must encode it
            vocab.encode(sf.encoder(scorer.start), int(model.hparams.max_len))
        except (ValueError, sf.EncoderError) as err:
            raise not_allowed("similarity.start", scorer.start, f"the model cannot encode it ({err})") from None
        seeds = None if seeds is None else [(scorer.start, 0.0)]  # the start alone (its improvement: 0)
        cfg = loop_config(s["mode"], cfg, seeding="pool", anchor_weight=float(sim["anchor_weight"]),
                          objectives=scorer.objectives)
    elif multi is not None:
        seeds = None if seeds is None else [(x, scorer(x)) for x, _ in seeds]  # offline molecules: not oracle calls
        cfg = loop_config(s["mode"], cfg, objectives=scorer.objectives)
    prefix = substructure_prefix(s.get("substructure"), vocab)
    if prefix is not None:
        cfg = loop_config(s["mode"], cfg, prefix=prefix)
    torch.manual_seed(int(s["seed"]))
    state = run_dso(model, vocab, oracle, seeds or [], cfg, state=state, generator=g, save_to=out / "last_round.pt")
    summary = {"objective": s["objective"], "mode": s["mode"], "seed": s["seed"], "rounds": state.round,
               "ring_filter_rejected": state.rejected, **summarise(oracle, oracle.budget or oracle.calls),
               "best": oracle.top_k(3)}
    if multi is not None:
        summary["limo"] = limo_summary(oracle, scorer, oracle.budget or oracle.calls, k=int(multi["top_k"]))
        summary["limo"]["weights"] = multi["weights"]
    if sim is not None:
        summary["similarity"] = similarity_summary(oracle, scorer, tuple(float(d) for d in sim["report"]))
    summary["seconds"] = time.perf_counter() - start
    paths = write_outputs(out, oracle, state, summary)
    for row in state.log:
        log(f"round {row['round']:3d}  calls {row['calls']:6d}  failed {row['failures']:3d}  "
            f"pool mean {row['pool_mean']:.4f}  best {row['pool_best']:.4f}")
    if multi is not None:
        for i, r in enumerate(summary["limo"]["top"], 1):
            log(f"LIMO top-{i} after the filter (SA < {multi['sa_max']}, QED > {multi['qed_min']}): "
                + "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()))
        log(f"{summary['limo']['feasible']} of {oracle.calls} designs pass LIMO's filter")
    if sim is not None:
        for key, v in summary["similarity"].items():
            if key.startswith("sim"):
                log(f"similarity >= {key[3:]}: best pLogP improvement {v['best_gain']}, success {v['success']}")
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
