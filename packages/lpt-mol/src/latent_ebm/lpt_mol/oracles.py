"""Molecular property oracles (RDKit) and the one budget-counting, caching wrapper.

Penalised logP, unnormalised logP - SA - a large-ring penalty, comes in the two definitions the
literature uses: ``plogp`` subtracts max(0, largest ring size - 6) (LIMO's ``penalized_logp``,
the one this package's benchmarks report) and ``plogp_lpt`` subtracts 1 per ring larger than 6
(the LPT code, released ``utils.calc_prop``). They differ only for molecules with a ring of more
than 6 atoms. SA is Ertl & Schuffenhauer (2009) via RDKit Contrib.
Three GuacaMol objectives (``guacamol_objectives.py``) are registered too; the docking oracle
(``docking.py``, extra ``[docking]``) is a callable to pass to :class:`Oracle`.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable

from rdkit import Chem, RDConfig, RDLogger
from rdkit.Chem import QED, Crippen

RDLogger.DisableLog("rdApp.*")
sys.path.append(os.path.join(RDConfig.RDContribDir, "SA_Score"))
import sascorer  # noqa: E402

from latent_ebm.core.checks import check_int, require  # noqa: E402

from .guacamol_objectives import GUACAMOL_OBJECTIVES  # noqa: E402

__all__ = ["ORACLES", "BudgetExceeded", "Oracle", "canonical", "penalized_logp", "penalized_logp_lpt", "qed", "sa"]


def canonical(smiles: str) -> str | None:
    """Canonical SMILES, or None when RDKit cannot parse it."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return Chem.MolToSmiles(mol) if mol is not None else None


def _mol(smiles: str) -> Chem.Mol:
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    if mol is None:
        raise ValueError(f"smiles={smiles!r} cannot be parsed by RDKit; give a valid SMILES string")
    return mol


def qed(smiles: str) -> float:
    """Quantitative estimate of drug-likeness (Bickerton et al. 2012), in [0, 0.948]."""
    return float(QED.qed(_mol(smiles)))


def sa(smiles: str) -> float:
    """Synthetic accessibility score in [1, 10], lower is easier (Ertl & Schuffenhauer 2009)."""
    return float(sascorer.calculateScore(_mol(smiles)))


def penalized_logp(smiles: str, ring_penalty: str = "largest") -> float:
    """logP - SA - ring penalty, unnormalised. ``ring_penalty``: ``largest`` = max(0, largest
    ring size - 6) (LIMO's definition; oracle ``plogp``) or ``count`` = the number of rings of
    more than 6 atoms (the LPT code's ``calc_prop``; oracle ``plogp_lpt``)."""
    mol = _mol(smiles)
    sizes = [len(r) for r in mol.GetRingInfo().AtomRings()]
    if ring_penalty == "largest":
        penalty = max(max(sizes, default=0) - 6, 0)
    elif ring_penalty == "count":
        penalty = sum(size > 6 for size in sizes)
    else:
        raise ValueError(f"ring_penalty={ring_penalty!r} is not allowed; it must be 'largest' or 'count'")
    return float(Crippen.MolLogP(mol) - sascorer.calculateScore(mol) - penalty)


def penalized_logp_lpt(smiles: str) -> float:
    """Penalised logP as the LPT code computes it: 1 subtracted per ring of more than 6 atoms."""
    return penalized_logp(smiles, ring_penalty="count")


ORACLES: dict[str, Callable[[str], float]] = {"qed": qed, "sa": sa, "plogp": penalized_logp,
                                              "plogp_lpt": penalized_logp_lpt, **GUACAMOL_OBJECTIVES}


class BudgetExceeded(RuntimeError):
    """Raised when an oracle call would exceed the budget."""


class Oracle:
    """Every oracle call goes through here: canonicalise, cache, count, enforce the budget.

    ``oracle(smiles_list)`` returns a list of floats or None (unparseable or failed); only new,
    valid canonical SMILES cost a call. ``history`` records (call index, smiles, value) in order.
    """

    def __init__(self, fn: Callable[[str], float] | str, budget: int | None = None, *,
                 batch_fn: Callable[[list[str]], list[float | None]] | None = None) -> None:
        if isinstance(fn, str):
            require("fn", fn, fn in ORACLES, f"use one of {sorted(ORACLES)} or a callable")
            fn = ORACLES[fn]
        check_int("budget", budget, low=0, allow_none=True)
        require("batch_fn", batch_fn, batch_fn is None or callable(batch_fn), "give a callable or None")
        self.fn, self.budget = fn, budget
        # a callable with a ``batch`` method (e.g. DockingOracle's process pool) scores new molecules in one call
        self.batch_fn = batch_fn if batch_fn is not None else getattr(fn, "batch", None)
        self.cache: dict[str, float | None] = {}
        self.history: list[tuple[int, str, float]] = []
        self.calls = 0
        self.invalid = 0
        self.failures = 0

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.calls

    def __call__(self, smiles: Iterable[str], *, strict: bool = False) -> list[float | None]:
        """Score; when the budget runs out, later new molecules get None (or raise if strict).

        New molecules of one call are scored together, through ``batch_fn`` when there is one.
        """
        keys: list[str | None] = []  # canonical SMILES per input, None = invalid or over budget
        new: list[str] = []
        pending: set[str] = set()
        for s in smiles:
            can = canonical(s)
            if can is None:
                self.invalid += 1
            elif can not in self.cache and can not in pending:
                if self.budget is not None and self.calls + len(new) >= self.budget:
                    if strict:
                        self._score(new)
                        raise BudgetExceeded(f"oracle budget {self.budget} is spent")
                    can = None
                else:
                    new.append(can)
                    pending.add(can)
            keys.append(can)
        self._score(new)
        return [None if k is None else self.cache[k] for k in keys]

    def _score(self, new: list[str]) -> None:
        if not new:
            return
        if self.batch_fn is not None:
            # per-molecule failures come back as None; an exception here is a broken set-up and
            # propagates (nothing is charged), so a dead install cannot pass for a run of failures
            values = list(self.batch_fn(new))
            if len(values) != len(new):
                raise RuntimeError(f"batch_fn returned {len(values)} values for {len(new)} molecules")
        else:
            values = [self._one(can) for can in new]
        for can, v in zip(new, values):
            self.calls += 1
            v = None if v is None else float(v)
            if v is None or v != v:  # None or NaN: a failure, counted, never scored
                self.failures += 1
                v = None
            self.cache[can] = v
            if v is not None:
                self.history.append((self.calls, can, v))

    def _one(self, can: str) -> float | None:
        try:
            return float(self.fn(can))
        except Exception:  # noqa: BLE001 - a failed oracle is counted, never scored silently
            return None

    def state_dict(self) -> dict:
        return {"cache": dict(self.cache), "history": list(self.history), "calls": self.calls,
                "invalid": self.invalid, "failures": self.failures, "budget": self.budget}

    def load_state_dict(self, state: dict) -> None:
        self.cache, self.history = dict(state["cache"]), list(state["history"])
        self.calls, self.invalid, self.failures = state["calls"], state["invalid"], state["failures"]
        self.budget = state["budget"]

    def top_k(self, k: int) -> list[tuple[str, float]]:
        best = sorted(((s, v) for _, s, v in self.history), key=lambda t: -t[1])
        return best[:k]
