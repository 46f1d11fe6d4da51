"""Proposal filters applied before the oracle, so a rejected molecule costs no call.

The online loop of the released LPT / DSO code (arXiv 2402.17179) keeps only RDKit-valid designs
whose rings all have 5 or 6 atoms before docking them (its SA / QED threshold filter is commented
out there); the same filter is applied to the baselines so every method searches the same space.
"""
from __future__ import annotations

from collections.abc import Sequence

from rdkit import Chem

__all__ = ["RELEASED_RING_SIZES", "ring_sizes_ok"]

RELEASED_RING_SIZES = (5, 6)


def ring_sizes_ok(smiles: str, sizes: Sequence[int] = RELEASED_RING_SIZES) -> bool:
    """True when ``smiles`` parses and every ring (RDKit SSSR) has a size in ``sizes``;
    acyclic molecules pass."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return mol is not None and all(len(r) in sizes for r in mol.GetRingInfo().AtomRings())
