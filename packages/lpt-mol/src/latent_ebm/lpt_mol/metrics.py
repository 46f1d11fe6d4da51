"""Quality of generated molecule sets and of optimisation runs under an oracle budget.

- validity / uniqueness / novelty: as in MOSES (Polykovskiy et al. 2020) and the LPT code's
  ``utils.py``: fraction of RDKit-parseable strings, fraction of distinct canonical SMILES among
  the valid ones, fraction of those distinct ones not in the reference (training) set.
- internal diversity: MOSES IntDiv1 = 1 - mean pairwise Tanimoto similarity of Morgan
  fingerprints (radius 2, 1024 bits) over the valid, distinct molecules.
- ring structure: mean heavy atoms, rings, aromatic rings (RDKit SSSR) and the share of
  molecules with a ring of more than 6 atoms (what penalised logP penalises and the LPT code
  filters): where a small SELFIES model's samples part from drug-like data.
- top-k AUC: PMO (Gao et al. 2022, "Sample Efficiency Matters"): the area under the curve of
  the running mean of the top-k scores against the number of oracle calls, sampled every
  ``freq`` calls, held at its last value up to the budget, divided by the budget.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from rdkit import DataStructs
from rdkit.Chem import rdFingerprintGenerator

from latent_ebm.core.checks import check_int

from .oracles import canonical

__all__ = ["internal_diversity", "novelty", "ring_structure", "running_top_k", "top_k_auc", "uniqueness", "validity"]

_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)


def _valid(smiles: Iterable[str]) -> list[str]:
    return [c for c in (canonical(s) for s in smiles) if c is not None]


def validity(smiles: Sequence[str]) -> float:
    """Fraction of strings RDKit parses (empty strings count as invalid)."""
    return len(_valid(smiles)) / len(smiles) if smiles else 0.0


def uniqueness(smiles: Sequence[str]) -> float:
    """Distinct canonical SMILES over valid ones."""
    valid = _valid(smiles)
    return len(set(valid)) / len(valid) if valid else 0.0


def novelty(smiles: Sequence[str], reference: Iterable[str]) -> float:
    """Fraction of the distinct valid molecules absent from ``reference`` (canonicalised)."""
    distinct = set(_valid(smiles))
    if not distinct:
        return 0.0
    ref = set(_valid(reference))
    return len(distinct - ref) / len(distinct)


def ring_structure(smiles: Sequence[str]) -> dict[str, float]:
    """Means over the valid molecules: heavy atoms, rings, aromatic rings; share with a ring > 6."""
    from rdkit import Chem
    from rdkit.Chem import rdMolDescriptors

    mols = [Chem.MolFromSmiles(s) for s in _valid(smiles)]
    if not mols:
        raise ValueError("smiles has no valid molecule; ring_structure needs at least one")
    large = [any(len(r) > 6 for r in m.GetRingInfo().AtomRings()) for m in mols]
    return {"heavy_atoms": float(np.mean([m.GetNumHeavyAtoms() for m in mols])),
            "rings": float(np.mean([rdMolDescriptors.CalcNumRings(m) for m in mols])),
            "aromatic_rings": float(np.mean([rdMolDescriptors.CalcNumAromaticRings(m) for m in mols])),
            "share_ring_gt6": float(np.mean(large))}


def internal_diversity(smiles: Sequence[str]) -> float:
    """1 - mean Tanimoto similarity over all ordered pairs of distinct valid molecules (IntDiv1)."""
    from rdkit import Chem

    distinct = sorted(set(_valid(smiles)))
    if len(distinct) < 2:
        return 0.0
    fps = [_MORGAN.GetFingerprint(Chem.MolFromSmiles(s)) for s in distinct]
    total = 0.0
    for i, fp in enumerate(fps):
        total += sum(DataStructs.BulkTanimotoSimilarity(fp, fps[i + 1:]))
    n = len(fps)
    # MOSES averages over the full n x n matrix, diagonal (similarity 1) included
    mean_sim = (2.0 * total + n) / (n * n)
    return 1.0 - mean_sim


def running_top_k(scores: Sequence[float], k: int) -> np.ndarray:
    """(n,) mean of the best min(k, i+1) of scores[:i+1], for each call i (scores in call order)."""
    check_int("k", k, low=1)
    out = np.empty(len(scores))
    best: list[float] = []
    for i, v in enumerate(scores):
        best = sorted([*best, float(v)], reverse=True)[:k]
        out[i] = float(np.mean(best))
    return out


def top_k_auc(scores: Sequence[float], k: int = 10, budget: int | None = None, freq: int = 100) -> float:
    """PMO's AUC of the top-k mean over oracle calls (scores in call order), divided by ``budget``.

    The curve is sampled every ``freq`` calls and at the last call, integrated by trapezoids from
    0 (value 0 before the first sample, as in PMO), and held at the final value from the last call
    to ``budget`` (a run that stops early is not rewarded for it).
    """
    budget = len(scores) if budget is None else budget
    check_int("budget", budget, low=1)
    check_int("freq", freq, low=1)
    if not scores:
        return 0.0
    curve = running_top_k(list(scores)[:budget], k)
    n = len(curve)
    marks = [*range(freq, n, freq), n]
    area, prev_x, prev_y = 0.0, 0, 0.0
    for x in marks:
        y = float(curve[x - 1])
        area += (x - prev_x) * (y + prev_y) / 2.0
        prev_x, prev_y = x, y
    area += (budget - n) * prev_y
    return area / budget
