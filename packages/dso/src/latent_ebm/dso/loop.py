"""The dual-space loop of DSO (arXiv 2402.17179v1; the released ``run_online_learn``), as a
configuration of the one shifting loop of ``latent-ebm-lpt-mol`` (``lpt_mol.shift``): nothing of
the loop is copied here, this module names DSO's settings, its ablations and its checks, and runs
it under an oracle budget.

Each round (``lpt_mol.shift.shift_round``):

1. latent space: warm-started Langevin on p(z0 | y + shift) ∝ N(z0; 0, I) p_gamma(y + shift | U(z0)),
   2 steps of 0.3 with noise 0.5, from the stored latent of each of the best pool molecules;
2. decode (top-k 50, optional SELFIES prefix), drop designs with rings other than 5 or 6 atoms;
3. oracle: every call through ``lpt_mol.oracles.Oracle`` (counted; a failed call is counted and
   reported, never scored);
4. data space: keep the top ``pool_size`` of old ∪ new, each molecule with its own latent;
5. refit the whole LPT on the pool by MCMC-based MLE (one epoch).

Ablations (same loop, same budget, same oracle wrapper): ``latent_only`` (no refit: the model never
sees the designs) and ``data_only`` (no Langevin: designs are decoded at their start latents, the
model refit on the selected pool).
"""
from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import selfies as sf
import torch

from latent_ebm.core.checks import check_choice, not_allowed
from latent_ebm.lpt_mol.data import SelfiesVocab
from latent_ebm.lpt_mol.metrics import top_k_auc
from latent_ebm.lpt_mol.oracles import ORACLES, Oracle, canonical
from latent_ebm.lpt_mol.shift import (
    FIRST_PARTY_SHIFTING,
    ShiftConfig,
    ShiftState,
    load_round,
    run_shifting,
    save_round,
)

from .model import DSOModule

__all__ = ["DOCKING_TARGETS", "DSO", "MODES", "check_budget", "check_objective", "limo_top", "loop_config",
           "make_oracle", "resume", "run_dso", "substructure_prefix", "summarise", "write_outputs"]

# DSO as released = the first-party shifting preset of lpt-mol (FIRST_PARTY_SHIFTING): 25 rounds
# of 2,500 designs, the top 15,000 kept, y + 0.1, 2 Langevin steps of 0.3 (noise 0.5) from warm
# starts, top-k 50, 5- and 6-rings only, one refit epoch a round, round 0 seeded from the test split.
DSO = FIRST_PARTY_SHIFTING
# mode -> the switches of the one loop it flips
MODES = {"dso": {}, "latent_only": {"refit": False}, "data_only": {"latent_sampling": False}}
DOCKING_TARGETS = ("esr1", "acaa1")


def loop_config(mode: str = "dso", base: ShiftConfig = DSO, **changes) -> ShiftConfig:
    """The loop's settings for ``mode`` (``dso`` or one of its single-space ablations)."""
    check_choice("mode", mode, tuple(MODES))
    return replace(base, **{**changes, **MODES[mode]})


def check_objective(name: str) -> str:
    """One-line error for an unknown property (the RDKit oracles of lpt-mol, or a docking target)."""
    if name not in ORACLES and name not in DOCKING_TARGETS:
        raise not_allowed("objective", name, f"use one of {sorted([*ORACLES, *DOCKING_TARGETS])}")
    return name


def make_oracle(objective: str | Callable[[str], float], budget: int) -> Oracle:
    """The one counting oracle: an RDKit property by name, a docking target (``esr1``/``acaa1``,
    negated Vina energy, the ``[docking]`` extra), or any callable."""
    if callable(objective):
        return Oracle(objective, budget=budget)
    check_objective(objective)
    if objective in DOCKING_TARGETS:
        from latent_ebm.lpt_mol.docking import DockingOracle

        return Oracle(DockingOracle(objective, negate=True), budget=budget)
    return Oracle(objective, budget=budget)


def check_budget(budget: int, cfg: ShiftConfig) -> None:
    """A budget must cover at least one round of designs."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < cfg.per_round:
        raise not_allowed("budget", budget, f"it is smaller than one round (per_round={cfg.per_round}); "
                                            f"give at least {cfg.per_round} oracle calls")


def substructure_prefix(smiles: str | None, vocab: SelfiesVocab | None = None) -> str | None:
    """The SELFIES prefix that forces ``smiles`` as the start of every design (the released
    ``cond_substructure_smiles``); None passes through. One-line errors for an invalid SMILES and
    for tokens the model's vocabulary lacks."""
    if smiles is None:
        return None
    can = canonical(smiles) if isinstance(smiles, str) else None
    if can is None:
        raise not_allowed("substructure", smiles, "it is not a valid SMILES (RDKit cannot parse it)")
    try:
        prefix = sf.encoder(smiles)
    except Exception:  # noqa: BLE001 - selfies raises its own EncoderError
        prefix = None
    if not prefix:
        raise not_allowed("substructure", smiles, "SELFIES cannot encode it")
    if vocab is not None:
        unknown = [t for t in sf.split_selfies(prefix) if t not in vocab.stoi]
        if unknown:
            raise not_allowed("substructure", smiles, f"its SELFIES tokens {unknown} are not in the model's vocabulary")
    return prefix


def run_dso(model: DSOModule, vocab: SelfiesVocab, oracle: Oracle, seeds: Sequence[tuple[str, float]],
            cfg: ShiftConfig, *, state: ShiftState | None = None, generator: torch.Generator | None = None,
            save_to: str | Path | None = None) -> ShiftState:
    """Run the loop until ``cfg.rounds`` rounds are done or the oracle budget is spent (exactly:
    a round asks for at most the calls left). ``seeds``: scored molecules (smiles, raw value) that
    give round 0 its targets (first-party seeding) or form the first pool (``seeding="pool"``).
    ``state``: a resumed run's state (``resume``). ``save_to``: a file rewritten after every round
    (``lpt_mol.shift.save_round``), from which ``resume`` continues."""
    if oracle.budget is not None:
        check_budget(oracle.budget, cfg)
    if state is None:
        seeds = [(s, float(v)) for s, v in seeds if v is not None]
        if not seeds:
            raise not_allowed("seeds", [], "the loop starts from scored molecules (smiles, value); give at least one")
        state = ShiftState(pool=sorted(seeds, key=lambda t: -t[1]))

    def save(st: ShiftState) -> None:
        if save_to is not None:
            save_round(save_to, model, oracle, st, generator)

    return run_shifting(model, vocab, oracle, state, cfg, generator, on_round=save)


def resume(path: str | Path, oracle: Oracle, generator: torch.Generator | None = None
           ) -> tuple[DSOModule, SelfiesVocab, ShiftState]:
    """Model, vocabulary and loop state of a run saved by ``run_dso(save_to=...)``; ``oracle`` (the
    same objective) gets back its cache, history and counts, ``generator`` its state."""
    model, state = load_round(path, oracle, generator, model_class=DSOModule)
    return model, SelfiesVocab.from_state(model.vocab_state), state


def limo_top(rows: Sequence[dict], k: int = 2, *, key: str = "kd_nm", qed_min: float = 0.4,
             sa_max: float = 5.5) -> list[dict]:
    """LIMO's reporting protocol for multi-objective design: keep molecules with SA < 5.5 and
    QED > 0.4, then the top ``k`` by ``key`` (lowest K_D first)."""
    kept = [r for r in rows if r["sa"] < sa_max and r["qed"] > qed_min]
    return sorted(kept, key=lambda r: r[key])[:k]


def summarise(oracle: Oracle, budget: int, k_auc: int = 10) -> dict:
    """PMO-style figures over the oracle's calls: top-1/2/3, mean of the top 50, top-10 AUC at
    ``budget`` (``lpt_mol.metrics.top_k_auc``), calls and failed calls."""
    scores = [v for _, _, v in oracle.history]
    best = sorted(scores, reverse=True)
    return {"calls": oracle.calls, "budget": budget, "failures": oracle.failures, "invalid": oracle.invalid,
            **{f"top{i}": best[i - 1] if len(best) >= i else None for i in (1, 2, 3)},
            "top50_mean": sum(best[:50]) / len(best[:50]) if best else None,
            f"top{k_auc}_auc": top_k_auc(scores, k=k_auc, budget=budget) if scores else 0.0}


def write_outputs(out_dir: str | Path, oracle: Oracle, state: ShiftState, summary: dict) -> list[Path]:
    """``rounds.tsv`` (one row a round), ``designs.tsv`` (every scored call in order),
    ``summary.json``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rounds, designs, summ = out / "rounds.tsv", out / "designs.tsv", out / "summary.json"
    with rounds.open("w", newline="") as fh:
        fields = list(state.log[0]) if state.log else ["round"]
        w = csv.DictWriter(fh, fieldnames=fields, delimiter="\t")
        w.writeheader()
        w.writerows(state.log)
    with designs.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["call", "smiles", "value"])
        w.writerows(oracle.history)
    summ.write_text(json.dumps(summary, indent=2))
    return [rounds, designs, summ]
