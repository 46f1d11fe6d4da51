"""GuacaMol objectives (Brown et al. 2019) against the guacamol package's own values and by hand."""
import math

import pytest

from latent_ebm.lpt_mol.guacamol_objectives import (
    CELECOXIB,
    OSIMERTINIB,
    celecoxib_rediscovery,
    fexofenadine_mpo,
    osimertinib_mpo,
    tanimoto,
)
from latent_ebm.lpt_mol.oracles import ORACLES, Oracle

DESMETHYL_CELECOXIB = "NS(=O)(=O)c1ccc(-n2nc(C(F)(F)F)cc2-c2ccccc2)cc1"
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
GEFITINIB = "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1"
TERFENADINE = "CC(C)(C)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4"

# Scores from guacamol 0.5.5 itself (goal_directed_suite_v2, objective.score), run once with
# SciPy 1.11 and RDKit 2026.09 in a scratch environment: an independent implementation.
GUACAMOL_055 = [
    ("celecoxib_rediscovery", DESMETHYL_CELECOXIB, 0.75),
    ("celecoxib_rediscovery", ASPIRIN, 0.11578947368421053),
    ("celecoxib_rediscovery", GEFITINIB, 0.13380281690140844),
    ("osimertinib_mpo", CELECOXIB, 0.18175080980044575),
    ("osimertinib_mpo", GEFITINIB, 0.06215516287673964),
    ("fexofenadine_mpo", GEFITINIB, 0.2916039157117435),
    ("fexofenadine_mpo", TERFENADINE, 0.010359966525002982),
    ("fexofenadine_mpo", OSIMERTINIB, 0.52580354049951),
]


def test_celecoxib_rediscovers_itself_and_unrelated_scores_low():
    assert celecoxib_rediscovery(CELECOXIB) == 1.0
    assert celecoxib_rediscovery("Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1") == 1.0  # same molecule
    assert celecoxib_rediscovery(ASPIRIN) < 0.2
    assert celecoxib_rediscovery("C") == 0.0


@pytest.mark.parametrize(("name", "smiles", "expected"), GUACAMOL_055)
def test_matches_guacamol_package(name, smiles, expected):
    assert ORACLES[name](smiles) == pytest.approx(expected, abs=1e-9)


def test_osimertinib_mpo_by_hand():
    # On osimertinib itself: FCFP4 sim 1 -> 1; ECFP6 sim 1 under MinGaussian(0.85, 0.1) ->
    # exp(-0.5 * 1.5^2); TPSA 87.55 under MaxGaussian(100, 10); Crippen logP 4.5098 under
    # MinGaussian(1, 1). Geometric mean of the four.
    parts = [1.0, math.exp(-0.5 * 1.5**2), math.exp(-0.5 * (12.45 / 10) ** 2), math.exp(-0.5 * 3.5098**2)]
    assert osimertinib_mpo(OSIMERTINIB) == pytest.approx(math.prod(parts) ** 0.25, rel=1e-4)
    assert tanimoto(OSIMERTINIB, OSIMERTINIB, "ECFP6") == 1.0


def test_fexofenadine_mpo_range_and_errors():
    assert 0.0 <= fexofenadine_mpo(ASPIRIN) <= 1.0
    with pytest.raises(ValueError, match="fp_type"):
        tanimoto(ASPIRIN, CELECOXIB, "MACCS")
    with pytest.raises(ValueError, match="smiles"):
        celecoxib_rediscovery("C1CC(")


def test_registered_in_oracle():
    o = Oracle("celecoxib_rediscovery", budget=2)
    assert o([CELECOXIB, ASPIRIN, GEFITINIB]) == [1.0, pytest.approx(0.11578947368421053), None]
    assert o.top_k(1) == [(o.history[0][1], 1.0)]
