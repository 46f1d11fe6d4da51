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
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from latent_ebm.core.checks import check_choice, not_allowed
from latent_ebm.lpt_mol.data import SelfiesVocab
from latent_ebm.lpt_mol.metrics import top_k_auc
from latent_ebm.lpt_mol.oracles import ORACLES, Oracle, canonical, penalized_logp
from latent_ebm.lpt_mol.shift import (
    FIRST_PARTY_SHIFTING,
    ShiftConfig,
    ShiftState,
    load_round,
    run_shifting,
    save_round,
)

from .model import DSOModule

__all__ = ["DOCKING_TARGETS", "DSO", "MODES", "LimoObjective", "SimilarityObjective", "check_budget", "check_objective",
           "limo_summary", "limo_top", "loop_config", "make_oracle", "resume", "run_dso", "similarity_summary",
           "substructure_prefix", "summarise", "tanimoto", "write_outputs"]

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
             sa_max: float = 5.5, lowest: bool = True) -> list[dict]:
    """LIMO's reporting protocol for multi-objective design: keep molecules with SA < 5.5 and
    QED > 0.4, then the top ``k`` by ``key`` (lowest first, as K_D; ``lowest=False``: highest first)."""
    kept = [r for r in rows if r["sa"] < sa_max and r["qed"] > qed_min]
    return sorted(kept, key=lambda r: r[key] if lowest else -r[key])[:k]


class LimoObjective:
    """Multi-objective design with LIMO's reporting protocol (Eckmann et al. 2022): the properties
    ``properties`` (RDKit oracles of lpt-mol, one head each in :class:`DSOModule`) of a molecule
    are computed once per oracle call; the pool is ranked by ``primary`` (higher is better) among
    the molecules that pass LIMO's filter (SA < ``sa_max`` and QED > ``qed_min``), those that fail
    it ranked below by ``primary - penalty``. ``objectives`` gives the model its per-property
    targets (``ShiftConfig.objectives``).

    ``oracle = Oracle(LimoObjective(...), budget)``: one counted call per new molecule scores all
    of its properties."""

    def __init__(self, properties: Sequence[str] = ("plogp", "qed", "sa"), primary: str = "plogp", *,
                 qed_min: float = 0.4, sa_max: float = 5.5, penalty: float = 10.0) -> None:
        props = tuple(properties) if not isinstance(properties, str) else ()
        if not props or any(p not in ORACLES for p in props) or not {"qed", "sa"} <= set(props):
            raise not_allowed("properties", properties, f"give RDKit oracles {sorted(ORACLES)} including 'qed' and 'sa' "
                                                        "(LIMO's filter)")
        if primary not in props or primary in ("qed", "sa"):
            raise not_allowed("primary", primary, f"give one of {[p for p in props if p not in ('qed', 'sa')]}")
        self.properties, self.primary = props, primary
        self.qed_min, self.sa_max, self.penalty = float(qed_min), float(sa_max), float(penalty)
        self.values: dict[str, tuple[float, ...]] = {}

    def objectives(self, smiles: str) -> tuple[float, ...]:
        """Raw value of each property (computed once a molecule)."""
        if smiles not in self.values:
            self.values[smiles] = tuple(float(ORACLES[p](smiles)) for p in self.properties)
        return self.values[smiles]

    def row(self, smiles: str) -> dict:
        return dict(zip(self.properties, self.objectives(smiles)))

    def feasible(self, smiles: str) -> bool:
        r = self.row(smiles)
        return r["sa"] < self.sa_max and r["qed"] > self.qed_min

    def __call__(self, smiles: str) -> float:
        primary = self.row(smiles)[self.primary]
        return primary if self.feasible(smiles) else primary - self.penalty


def limo_summary(oracle: Oracle, objective: LimoObjective, budget: int, k: int = 3, k_auc: int = 10) -> dict:
    """LIMO's protocol over the oracle's calls: the molecules passing the filter, their top ``k``
    by the primary property (with QED and SA), and the top-10 AUC of the ranking score."""
    rows = [{"smiles": s, **objective.row(s)} for _, s, _ in oracle.history]
    top = limo_top(rows, k=k, key=objective.primary, qed_min=objective.qed_min, sa_max=objective.sa_max,
                   lowest=False)
    scores = [v for _, _, v in oracle.history]
    return {"calls": oracle.calls, "budget": budget, "failures": oracle.failures,
            "feasible": sum(r["sa"] < objective.sa_max and r["qed"] > objective.qed_min for r in rows),
            **{f"top{i}": top[i - 1][objective.primary] if len(top) >= i else None for i in range(1, k + 1)},
            "top": top, f"top{k_auc}_auc": top_k_auc(scores, k=k_auc, budget=budget) if scores else 0.0}


def tanimoto(a: str, b: str, radius: int = 2, bits: int = 2048) -> float:
    """Tanimoto similarity of Morgan fingerprints (radius 2, 2048 bits: JT-VAE's constrained-
    optimisation protocol)."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=bits)
    fa, fb = (gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in (a, b))
    return float(DataStructs.TanimotoSimilarity(fa, fb))


class SimilarityObjective:
    """Similarity-constrained pLogP improvement (JT-VAE's protocol, used by LIMO and DSO): a
    design x of start molecule x0 scores pLogP(x) - pLogP(x0) when Tanimoto(x, x0) >= ``delta``,
    else that improvement - ``penalty`` (ranked below every feasible design). ``objectives`` gives
    the model its target, raw pLogP."""

    def __init__(self, start: str, delta: float, *, penalty: float = 10.0) -> None:
        can = canonical(start) if isinstance(start, str) else None
        if can is None:
            raise not_allowed("start", start, "it is not a valid SMILES (RDKit cannot parse it)")
        if not isinstance(delta, int | float) or not 0.0 <= delta <= 1.0:
            raise not_allowed("delta", delta, "give a similarity threshold in [0, 1]")
        self.start, self.delta, self.penalty = can, float(delta), float(penalty)
        self.start_value = penalized_logp(can)
        self.values: dict[str, tuple[float, float]] = {}  # smiles -> (pLogP, similarity)

    def measure(self, smiles: str) -> tuple[float, float]:
        if smiles not in self.values:
            self.values[smiles] = (penalized_logp(smiles), tanimoto(smiles, self.start))
        return self.values[smiles]

    def objectives(self, smiles: str) -> tuple[float]:
        return (self.measure(smiles)[0],)

    def __call__(self, smiles: str) -> float:
        value, sim = self.measure(smiles)
        gain = value - self.start_value
        return gain if sim >= self.delta else gain - self.penalty


def similarity_summary(oracle: Oracle, objective: SimilarityObjective, deltas: Sequence[float] = (0.4, 0.6)) -> dict:
    """Per threshold: the best improvement among designs other than the start with similarity >=
    delta (None if there is none) and whether it is > 0 (a success in JT-VAE's table)."""
    out = {"calls": oracle.calls, "start": objective.start, "start_plogp": objective.start_value}
    for d in deltas:
        gains = [objective.measure(s)[0] - objective.start_value for _, s, _ in oracle.history
                 if s != objective.start and objective.measure(s)[1] >= d]
        best = max(gains) if gains else None
        out[f"sim{d}"] = {"best_gain": best, "success": best is not None and best > 0}
    return out


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
