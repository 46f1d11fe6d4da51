"""Docking oracle: K_D formula, ESR1 ligand vs tiny molecules, failures, pool == serial, Oracle hook.

Docking tests need the extra ``[docking]`` (vina, meeko) and the registry's docking datasets; they
skip with the reason otherwise. Exhaustiveness 1 keeps the whole file to seconds of docking.
"""
import importlib.util
import math
import sys

import pytest

from latent_ebm.lpt_mol.docking import TARGETS, DockingOracle, kd_nm
from latent_ebm.lpt_mol.oracles import Oracle

ESTRADIOL = "C[C@]12CC[C@H]3[C@@H](CCc4cc(O)ccc34)[C@@H]1CC[C@@H]2O"
SMALL = ["CCO", "C", "Oc1ccccc1"]  # ethanol, methane, phenol
SILANOL = "C[Si](C)(C)O"  # Si has no AD4 map: Vina would exit(), so it must fail cleanly
SELENOPHENE = "c1cc[se]c1"  # meeko has no atom type for aromatic Se

_missing = [m for m in ("vina", "meeko") if importlib.util.find_spec(m) is None]
needs_vina = pytest.mark.skipif(bool(_missing), reason=f"{_missing} not installed: pip install 'latent-ebm-lpt-mol[docking]'")


def _data(dataset):
    from latent_ebm.core.data import is_available

    return pytest.mark.skipif(not is_available(dataset), reason=f"{dataset} is not in the data cache (set LATENT_EBM_DATA_DIR)")


limo, mood = _data("docking-esr1-acaa1-limo"), _data("docking-5targets-mood")


@pytest.fixture(scope="module", autouse=True)
def _artifacts(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # unzipped maps go to a temp artifact cache
        mp.setenv("LATENT_EBM_ARTIFACT_DIR", str(tmp_path_factory.mktemp("artifacts")))
        yield


def test_kd_formula_hand_values():
    # K_D = exp(E / RT) M, RT = 1.987e-3 * 298.15 = 0.59242 kcal/mol; exp(-10 / 0.59242) = 4.6687e-8 M
    assert kd_nm(-10.0) == pytest.approx(46.687, rel=1e-4)
    assert kd_nm(0.0) == pytest.approx(1e9)
    assert kd_nm(-12.27696) == pytest.approx(1.0, rel=1e-4)  # RT ln(1e-9)
    assert kd_nm([-10.0, 0.0]).tolist() == pytest.approx([46.687, 1e9], rel=1e-4)
    with pytest.raises(ValueError, match="energy"):
        kd_nm(math.nan)


def test_bad_arguments_name_the_valid_values():
    with pytest.raises(ValueError, match=r"target='esr2'.*'acaa1'.*'esr1'"):
        DockingOracle("esr2")
    with pytest.raises(ValueError, match="seed=0"):
        DockingOracle("esr1", seed=0)
    assert set(TARGETS) == {"esr1", "acaa1", "parp1", "fa7", "5ht1b", "braf", "jak2"}


def test_missing_vina_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "vina", None)
    with pytest.raises(ImportError, match=r"latent-ebm-lpt-mol\[docking\]"):
        DockingOracle("esr1")


@pytest.fixture(scope="module")
def esr1_serial():
    oracle = DockingOracle("esr1", exhaustiveness=1, seed=1)
    return oracle, dict(zip([ESTRADIOL, *SMALL], oracle.batch([ESTRADIOL, *SMALL])))


@needs_vina
@limo
def test_estradiol_binds_esr1_better_than_tiny_molecules(esr1_serial):
    _, e = esr1_serial
    assert e[ESTRADIOL] < -7.0  # about -9.3 kcal/mol (AD4 scoring on the 1ERR maps)
    assert e[ESTRADIOL] < e["CCO"] - 3 and e[ESTRADIOL] < e["C"] - 3
    assert all(v < 0 for v in e.values())


@needs_vina
@limo
def test_failures_are_none_and_counted(esr1_serial):
    oracle, _ = esr1_serial
    before = oracle.calls
    assert oracle.batch([SILANOL, SELENOPHENE, "C1CC("]) == [None, None, None]
    assert oracle.calls == before + 3
    assert oracle.failures["atom_types"] == 1 and oracle.failures["prepare"] == 1 and oracle.failures["parse"] == 1
    assert oracle.errors[-1][0] == "C1CC(" and oracle.failure_rate > 0
    wrapped = Oracle(oracle, budget=10)  # the budget wrapper counts them as failures, never as 0
    assert wrapped([SILANOL, "CCO"]) == [None, pytest.approx(esr1_serial[1]["CCO"])]
    assert wrapped.failures == 1 and wrapped.calls == 2 and [s for _, s, _ in wrapped.history] == ["CCO"]


@needs_vina
@limo
def test_pool_matches_serial(esr1_serial):
    _, serial = esr1_serial
    order = SMALL[::-1]  # another order on other processes: each docking depends on the seed only
    with DockingOracle("esr1", exhaustiveness=1, seed=1, n_workers=2) as pooled:
        assert pooled.batch(order) == [serial[s] for s in order]


@needs_vina
@limo
@mood
@pytest.mark.parametrize(("target", "scoring"), [("acaa1", None), ("esr1", "vina"), ("parp1", None)])
def test_other_targets_and_scorings(target, scoring):
    oracle = DockingOracle(target, exhaustiveness=1, scoring=scoring, negate=True)
    assert oracle("Oc1ccccc1") > 2.0  # -E: phenol binds weakly but clearly


@needs_vina
@limo
def test_acaa1_has_no_receptor_for_vina_scoring():
    with pytest.raises(ValueError, match="no receptor PDBQT"):
        DockingOracle("acaa1", scoring="vina")
