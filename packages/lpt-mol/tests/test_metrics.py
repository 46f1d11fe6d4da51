"""Set metrics and the PMO top-k AUC against values worked out by hand."""
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from latent_ebm.lpt_mol.metrics import (
    internal_diversity,
    novelty,
    ring_structure,
    running_top_k,
    top_k_auc,
    uniqueness,
    validity,
)


def test_validity_uniqueness_novelty():
    assert validity(["CCO", "", "C1CC(", "OCC"]) == pytest.approx(0.5)
    assert uniqueness(["CCO", "OCC", "c1ccccc1", "C1CC("]) == pytest.approx(2 / 3)  # OCC is CCO
    assert novelty(["CCO", "c1ccccc1", "CCN"], reference=["OCC"]) == pytest.approx(2 / 3)
    assert validity([]) == 0.0 and uniqueness(["C1CC("]) == 0.0


def test_internal_diversity_two_molecules():
    a, b = "CCOc1ccccc1", "CCNc1ccccc1"
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    sim = DataStructs.TanimotoSimilarity(gen.GetFingerprint(Chem.MolFromSmiles(a)),
                                         gen.GetFingerprint(Chem.MolFromSmiles(b)))
    # full 2x2 matrix with unit diagonal: mean = (2 + 2 sim) / 4
    assert internal_diversity([a, b, a]) == pytest.approx(1 - (2 + 2 * sim) / 4)
    assert internal_diversity([a, a]) == 0.0


def test_ring_structure_by_hand():
    # benzene: 6 heavy atoms, 1 aromatic ring; cyclooctane: 8 atoms, 1 ring > 6; naphthalene:
    # 10 atoms, 2 aromatic rings; ethanol: 3 atoms, no ring; the unparseable string is skipped
    r = ring_structure(["c1ccccc1", "C1CCCCCCC1", "c1ccc2ccccc2c1", "CCO", "C1CC("])
    assert r == pytest.approx({"heavy_atoms": 27 / 4, "rings": 4 / 4, "aromatic_rings": 3 / 4,
                               "share_ring_gt6": 1 / 4})
    with pytest.raises(ValueError, match="smiles"):
        ring_structure(["C1CC("])


def test_running_top_k():
    assert list(running_top_k([1, 3, 2, 5], k=2)) == [1.0, 2.0, 2.5, 4.0]
    with pytest.raises(ValueError, match="k="):
        running_top_k([1.0], k=0)


def test_top_k_auc_constant_and_hand_computed():
    # constant c over the whole budget: the first trapezoid rises from 0, the rest is flat
    assert top_k_auc([0.8] * 1000, k=10, budget=1000, freq=100) == pytest.approx(0.8 - 0.8 * 100 / 2000)
    # k=1, freq=2, scores 1,3,2,5 then held to budget 6: curve 1,3,3,5 sampled at calls 2 and 4
    # area = 2*(3+0)/2 + 2*(5+3)/2 + 2*5 = 3 + 8 + 10 = 21 -> 21 / 6
    assert top_k_auc([1, 3, 2, 5], k=1, budget=6, freq=2) == pytest.approx(21 / 6)
    # stopping early is not rewarded: the same run scored against a larger budget scores no higher
    assert top_k_auc([1, 3, 2, 5], k=1, budget=60, freq=2) <= 5.0
