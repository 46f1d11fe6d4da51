"""Baselines under the same oracle budget: random training-set sampling and a graph GA in the
spirit of Jensen (2019, Chem. Sci. 10:3567): cut-and-join crossover on acyclic single bonds and
atom/bond mutations, with fitness-proportional parent selection.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from rdkit import Chem

from .oracles import Oracle, canonical

__all__ = ["graph_ga", "random_baseline"]

_ATOMS = ["C", "N", "O", "F", "S", "Cl"]


def random_baseline(oracle: Oracle, smiles: Sequence[str], seed: int = 0,
                    keep: Callable[[str], bool] | None = None) -> None:
    """Score training molecules in random order until the budget is spent; ``keep`` (e.g.
    :func:`~latent_ebm.lpt_mol.filters.ring_sizes_ok`) skips molecules before they cost a call."""
    order = [s for s in smiles if keep is None or keep(s)]
    random.Random(seed).shuffle(order)
    for i in range(0, len(order), 100):
        if oracle.remaining is not None and oracle.remaining <= 0:
            return
        oracle(order[i:i + 100])


def _fragments(mol: Chem.Mol, rng: random.Random) -> tuple[Chem.Mol, Chem.Mol] | None:
    bonds = [b.GetIdx() for b in mol.GetBonds() if not b.IsInRing() and b.GetBondType() == Chem.BondType.SINGLE]
    if not bonds:
        return None
    frag = Chem.FragmentOnBonds(mol, [rng.choice(bonds)], addDummies=True, dummyLabels=[(1, 1)])
    parts = Chem.GetMolFrags(frag, asMols=True, sanitizeFrags=False)
    return (parts[0], parts[1]) if len(parts) == 2 else None


def crossover(a: str, b: str, rng: random.Random) -> str | None:
    """Join a random acyclic-bond fragment of ``a`` with one of ``b`` at their cut points."""
    ma, mb = Chem.MolFromSmiles(a), Chem.MolFromSmiles(b)
    if ma is None or mb is None:
        return None
    fa, fb = _fragments(ma, rng), _fragments(mb, rng)
    if fa is None or fb is None:
        return None
    joined = Chem.molzip(rng.choice(fa), Chem.RWMol(rng.choice(fb)))
    try:
        Chem.SanitizeMol(joined)
    except Exception:  # noqa: BLE001
        return None
    return canonical(Chem.MolToSmiles(joined))


def mutate(s: str, rng: random.Random) -> str | None:
    """Change an atom's element, append an atom, or delete a terminal atom."""
    mol = Chem.MolFromSmiles(s)
    if mol is None:
        return None
    rw = Chem.RWMol(mol)
    op = rng.randrange(3)
    atoms = list(rw.GetAtoms())
    if op == 0:
        rng.choice(atoms).SetAtomicNum(Chem.GetPeriodicTable().GetAtomicNumber(rng.choice(_ATOMS)))
    elif op == 1:
        i = rw.AddAtom(Chem.Atom(rng.choice(_ATOMS[:3])))
        rw.AddBond(rng.choice(atoms).GetIdx(), i, Chem.BondType.SINGLE)
    else:
        ends = [a.GetIdx() for a in atoms if a.GetDegree() == 1]
        if not ends or len(atoms) < 3:
            return None
        rw.RemoveAtom(rng.choice(ends))
    try:
        Chem.SanitizeMol(rw)
    except Exception:  # noqa: BLE001
        return None
    return canonical(Chem.MolToSmiles(rw))


def graph_ga(oracle: Oracle, start: Sequence[str], *, population: int = 100, offspring: int = 100,
             mutation_rate: float = 0.1, seed: int = 0, max_generations: int = 1000,
             keep: Callable[[str], bool] | None = None) -> list[tuple[str, float]]:
    """Run the GA until the oracle budget (or ``max_generations``) is spent; returns the population.
    ``keep`` filters the start set and every child before it costs an oracle call."""
    rng = random.Random(seed)
    init = [s for s in start if keep is None or keep(s)]
    rng.shuffle(init)
    scores = oracle(init[:population])
    pop = sorted(((s, v) for s, v in zip(init, scores) if v is not None), key=lambda t: -t[1])
    for _ in range(max_generations):
        if oracle.remaining is not None and oracle.remaining <= 0:
            break
        weights = [max(v, 0.0) + 1e-6 for _, v in pop]
        children = []
        for _ in range(offspring):
            a, b = rng.choices(pop, weights=weights, k=2)
            c = crossover(a[0], b[0], rng)
            if c is not None and rng.random() < mutation_rate:
                c = mutate(c, rng)
            if c is not None and c not in oracle.cache and len(c) < 120 and (keep is None or keep(c)):
                children.append(c)
        if not children:
            continue
        merged = dict(pop)
        merged.update({c: v for c, v in zip(children, oracle(children)) if v is not None})
        pop = sorted(merged.items(), key=lambda t: -t[1])[:population]
    return pop
