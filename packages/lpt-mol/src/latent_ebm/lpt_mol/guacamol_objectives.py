"""Three GuacaMol goal-directed objectives re-implemented in RDKit (Brown et al., J. Chem. Inf.
Model. 2019, "GuacaMol: Benchmarking Models for de Novo Molecular Design", suite v2).

The ``guacamol`` package (0.5.5, the last release) is not used: it requires ``rdkit-pypi``, a
second RDKit distribution that overwrites the files of the ``rdkit`` one this package depends on,
and it imports ``scipy.histogram``, removed in SciPy 1.12. The definitions below follow its
``standard_benchmarks.py`` and ``score_modifier.py``; the tests check them against values the
real package gives (installed by hand with SciPy < 1.12).

Fingerprints are GuacaMol's: unhashed *count* fingerprints compared by count Tanimoto
(sum of minima over sum of maxima). ECFP4/ECFP6 are Morgan radius 2/3, FCFP4 Morgan radius 2
with feature invariants, AP the atom pairs up to topological distance 10.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import Descriptors, rdFingerprintGenerator

from latent_ebm.core.checks import not_allowed

__all__ = ["GUACAMOL_OBJECTIVES", "celecoxib_rediscovery", "fexofenadine_mpo", "osimertinib_mpo",
           "tanimoto"]

CELECOXIB = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
OSIMERTINIB = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"
FEXOFENADINE = "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4"


@cache
def _generator(fp_type: str):
    if fp_type in ("ECFP4", "ECFP6", "FCFP4"):
        inv = rdFingerprintGenerator.GetMorganFeatureAtomInvGen() if fp_type == "FCFP4" else None
        return rdFingerprintGenerator.GetMorganGenerator(radius=int(fp_type[-1]) // 2, atomInvariantsGenerator=inv)
    if fp_type == "AP":
        return rdFingerprintGenerator.GetAtomPairGenerator(maxDistance=10)
    raise not_allowed("fp_type", fp_type, "use one of 'AP', 'ECFP4', 'ECFP6', 'FCFP4'")


def _mol(smiles: str) -> Chem.Mol:
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    if mol is None:
        raise ValueError(f"smiles={smiles!r} cannot be parsed by RDKit; give a valid SMILES string")
    return mol


@cache
def _reference_fp(smiles: str, fp_type: str):
    return _generator(fp_type).GetSparseCountFingerprint(_mol(smiles))


def tanimoto(smiles: str, reference: str, fp_type: str = "ECFP4") -> float:
    """Count-Tanimoto similarity of two molecules' unhashed ``fp_type`` fingerprints, in [0, 1]."""
    fp = _generator(fp_type).GetSparseCountFingerprint(_mol(smiles))
    return float(DataStructs.TanimotoSimilarity(fp, _reference_fp(reference, fp_type)))


# Score modifiers (GuacaMol score_modifier.py): map a raw value to [0, 1].
def _clipped(x: float, upper_x: float) -> float:
    """Linear from 0 at x = 0 to 1 at x = upper_x, clipped to [0, 1] (ClippedScoreModifier)."""
    return float(np.clip(x / upper_x, 0.0, 1.0))


def _gauss(x: float, mu: float, sigma: float) -> float:
    return float(np.exp(-0.5 * ((x - mu) / sigma) ** 2))


def _min_gauss(x: float, mu: float, sigma: float) -> float:
    """1 for x <= mu, a Gaussian tail above (MinGaussianModifier: prefer x small)."""
    return _gauss(max(x, mu), mu, sigma)


def _max_gauss(x: float, mu: float, sigma: float) -> float:
    """1 for x >= mu, a Gaussian tail below (MaxGaussianModifier: prefer x large)."""
    return _gauss(min(x, mu), mu, sigma)


def _geometric_mean(values: list[float]) -> float:
    return float(np.prod(values) ** (1.0 / len(values)))


def celecoxib_rediscovery(smiles: str) -> float:
    """ECFP4 count-Tanimoto to celecoxib (threshold 1.0: no clipping below 1); 1.0 for celecoxib."""
    return _clipped(tanimoto(smiles, CELECOXIB, "ECFP4"), 1.0)


def osimertinib_mpo(smiles: str) -> float:
    """Geometric mean of: FCFP4 sim. to osimertinib clipped at 0.8; ECFP6 sim. under MinGaussian(0.85,
    0.1) (not too similar); TPSA under MaxGaussian(100, 10); logP under MinGaussian(1, 1)."""
    mol = _mol(smiles)
    return _geometric_mean([
        _clipped(tanimoto(smiles, OSIMERTINIB, "FCFP4"), 0.8),
        _min_gauss(tanimoto(smiles, OSIMERTINIB, "ECFP6"), 0.85, 0.1),
        _max_gauss(Descriptors.TPSA(mol), 100.0, 10.0),
        _min_gauss(Descriptors.MolLogP(mol), 1.0, 1.0),
    ])


def fexofenadine_mpo(smiles: str) -> float:
    """Geometric mean of: AP sim. to fexofenadine clipped at 0.8; TPSA under MaxGaussian(90, 10);
    logP under MinGaussian(4, 1) ("make fexofenadine less greasy")."""
    mol = _mol(smiles)
    return _geometric_mean([
        _clipped(tanimoto(smiles, FEXOFENADINE, "AP"), 0.8),
        _max_gauss(Descriptors.TPSA(mol), 90.0, 10.0),
        _min_gauss(Descriptors.MolLogP(mol), 4.0, 1.0),
    ])


GUACAMOL_OBJECTIVES: dict[str, Callable[[str], float]] = {
    "celecoxib_rediscovery": celecoxib_rediscovery,
    "osimertinib_mpo": osimertinib_mpo,
    "fexofenadine_mpo": fexofenadine_mpo,
}
