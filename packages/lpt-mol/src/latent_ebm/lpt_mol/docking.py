"""Docking oracle: AutoDock Vina 1.2 (Eberhardt et al. 2021) with meeko ligand preparation.

Needs the extra ``pip install 'latent-ebm-lpt-mol[docking]'``; importing this module does not.

Targets come from the core data registry. ESR1 (PDB 1ERR) and ACAA1 (PDB 2IIK) are scored on the
precomputed AutoDock4 grid maps that LIMO ships and that the LPT code docks with AutoDock-GPU
(arXiv 2402.17179, ``utils.py``): Vina's ``ad4`` scoring function loads the same maps, so the
force field and the box are the paper's; the search (Vina's Monte Carlo + BFGS rather than
AutoDock-GPU's Lamarckian GA) and the ligand preparation (RDKit ETKDG + MMFF + meeko, rather than
Open Babel at pH 7.4) differ, so energies are on the paper's scale but are not its numbers.
ACAA1 ships no receptor PDBQT, so it has only ``ad4``. The MOOD targets (parp1, fa7, 5ht1b,
braf, jak2; Lee et al., ICML 2023) use the Vina scoring function on their receptor and box.

Energies are in kcal/mol, lower is better. A molecule that cannot be parsed, embedded, prepared
or docked is returned as None and counted by stage in ``DockingOracle.failures``: it is never
scored 0 (the LPT code maps failures to 0, and LIMO issue #7 shows a broken install hiding
behind such constant values).
"""
from __future__ import annotations

import gzip
import json
import logging
import math
import multiprocessing as mp
import os
import shutil
import sys
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache, partial
from typing import Literal

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem
from rdkit.Chem.MolStandardize import rdMolStandardize

from latent_ebm.core.checks import check_choice, check_int, require

__all__ = ["R_KCAL", "T_KELVIN", "TARGETS", "DockingOracle", "DockingTarget", "dock_smiles",
           "embed", "kd_nm", "ligand_pdbqt"]

log = logging.getLogger(__name__)

R_KCAL = 1.987e-3  # gas constant, kcal / (mol K)
T_KELVIN = 298.15
Scoring = Literal["ad4", "vina", "vinardo"]
# The 13 ligand atom types of the AutoGrid maps (1err.gpf, 2iik.gpf) plus electrostatics and desolvation.
AD4_MAPS = ("HD", "C", "A", "N", "NA", "OA", "F", "P", "SA", "S", "Cl", "Br", "I", "e", "d")


def kd_nm(energy):
    """Dissociation constant in nM from a binding free energy E in kcal/mol (LPT, SGDS, LIMO):
    K_D = exp(E / (R T)) mol/L with R = 1.987e-3 kcal/(mol K), T = 298.15 K, times 1e9.

    Takes a float or an array-like; -10 kcal/mol gives about 46.7 nM, -12.28 about 1 nM.
    """
    e = np.asarray(energy, dtype=float)
    require("energy", energy, bool(np.all(np.isfinite(e))), "give finite energies in kcal/mol")
    kd = np.exp(e / (R_KCAL * T_KELVIN)) * 1e9
    return float(kd) if kd.ndim == 0 else kd


@dataclass(frozen=True)
class DockingTarget:
    """A receptor in the core data registry: ``maps`` is the AD4 map stem, ``receptor`` a PDBQT,
    ``box`` the key of its entry in the dataset's ``boxes.json``, ``scoring`` the default."""

    dataset: str
    box: str
    scoring: Scoring
    maps: str | None = None
    receptor: str | None = None


_LIMO, _MOOD = "docking-esr1-acaa1-limo", "docking-5targets-mood"
TARGETS: dict[str, DockingTarget] = {
    "esr1": DockingTarget(_LIMO, "esr1_1err", "ad4", maps="1err", receptor="1err.pdbqt"),
    "acaa1": DockingTarget(_LIMO, "acaa1_2iik", "ad4", maps="2iik"),
    **{t: DockingTarget(_MOOD, t, "vina", receptor=f"{t}.pdbqt")
       for t in ("parp1", "fa7", "5ht1b", "braf", "jak2")},
}


def _require() -> None:
    try:
        import meeko  # noqa: F401
        import vina  # noqa: F401
    except ImportError as err:
        raise ImportError(f"docking needs AutoDock Vina and meeko ({err}); install them with "
                          "pip install 'latent-ebm-lpt-mol[docking]'") from err


@dataclass(frozen=True)
class _Setup:
    """Everything a worker process needs, resolved to local files."""

    scoring: str
    maps: str | None
    receptor: str | None
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    exhaustiveness: int
    n_poses: int
    seed: int
    cpu: int
    max_evals: int


def _unpack_maps(dataset: str, stem: str) -> str:
    """Gunzip the AD4 maps once into the artifact cache; returns the prefix for ``load_maps``."""
    from latent_ebm.core.data import artifact_dir, get_file

    out = artifact_dir("lpt_mol", "docking", dataset)
    names = [f"{stem}.{k}.map.gz" for k in AD4_MAPS] + [f"{stem}.maps.fld", f"{stem}.maps.xyz"]
    for name in names:
        src = get_file(dataset, name)  # sha256-checked
        dest = out / name.removesuffix(".gz")
        if dest.is_file():
            continue
        tmp = dest.with_name(f"{dest.name}.{os.getpid()}.tmp")
        with (gzip.open(src, "rb") if name.endswith(".gz") else open(src, "rb")) as fi, open(tmp, "wb") as fo:
            shutil.copyfileobj(fi, fo)
        os.replace(tmp, dest)
    return str(out / stem)


def _resolve(target: str, scoring: Scoring | None, **opts) -> _Setup:
    from latent_ebm.core.data import get_file

    t = TARGETS[target]
    scoring = scoring or t.scoring
    box = json.loads(get_file(t.dataset, "boxes.json").read_text())[t.box]
    center = tuple(float(c) for c in box.get("center") or box["gridcenter"])
    size = tuple(float(s) for s in box["size"])
    if scoring == "ad4":
        if t.maps is None:
            raise ValueError(f"scoring='ad4' is not allowed for target={target!r}: it has no AD4 maps")
        return _Setup("ad4", _unpack_maps(t.dataset, t.maps), None, center, size, **opts)
    if t.receptor is None:
        raise ValueError(f"scoring={scoring!r} is not allowed for target={target!r}: it has no receptor "
                         "PDBQT, only AD4 maps; use scoring='ad4'")
    return _Setup(scoring, None, str(get_file(t.dataset, t.receptor)), center, size, **opts)


# ---- per-process state: one Vina object per set-up, its maps loaded once -----------------------
_VINA: dict[_Setup, object] = {}


def _vina(setup: _Setup):
    v = _VINA.get(setup)
    if v is None:
        from vina import Vina

        v = Vina(sf_name=setup.scoring, cpu=setup.cpu, seed=setup.seed, verbosity=0)
        if setup.maps is not None:
            v.load_maps(setup.maps)
        else:
            v.set_receptor(setup.receptor)
            v.compute_vina_maps(center=list(setup.center), box_size=list(setup.size))
        _VINA[setup] = v
    return v


@cache
def _preparator():
    from meeko import MoleculePreparation

    # rigid macrocycles: no CG/G glue pseudo-atoms, which the AD4 maps have no grids for
    return MoleculePreparation(rigid_macrocycles=True)


def _parse(smiles: str) -> Chem.Mol:
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    if mol is None:
        raise ValueError(f"smiles={smiles!r} cannot be parsed by RDKit")
    return mol


def embed(smiles: str | Chem.Mol, seed: int = 1) -> Chem.Mol:
    """Largest fragment, explicit Hs, ETKDGv3 3-D embedding (seeded), MMFF94 minimisation."""
    mol = _parse(smiles) if isinstance(smiles, str) else smiles
    mol = Chem.AddHs(rdMolStandardize.LargestFragmentChooser().choose(mol))
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol, params) != 0:
        params.useRandomCoords = True
        if AllChem.EmbedMolecule(mol, params) != 0:
            raise RuntimeError("ETKDG embedding failed")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMolecule(mol, maxIters=500)
    return mol


def ligand_pdbqt(mol: Chem.Mol) -> str:
    """meeko (>= 0.5) PDBQT string with Gasteiger charges for a 3-D molecule with explicit Hs."""
    from meeko import PDBQTWriterLegacy

    setups = _preparator().prepare(mol)
    pdbqt, ok, err = PDBQTWriterLegacy.write_string(setups[0])
    if not ok:
        raise RuntimeError(f"meeko could not write a PDBQT: {err}")
    return pdbqt


def dock_smiles(setup: _Setup, smiles: str) -> tuple[float | None, str | None]:
    """(best docking energy in kcal/mol, None), or (None, "stage: error") when a stage fails."""
    v = _vina(setup)  # outside the try: a broken set-up raises instead of counting as failures
    stage = "parse"
    try:
        mol = _parse(smiles)
        stage = "embed"
        mol = embed(mol, setup.seed)
        stage = "prepare"
        pdbqt = ligand_pdbqt(mol)
        if setup.maps is not None:
            # Vina calls exit() when a ligand type has no map: check first
            stage = "atom_types"
            types = {ln.split()[-1] for ln in pdbqt.splitlines() if ln.startswith(("ATOM", "HETATM"))}
            if missing := sorted(types - set(AD4_MAPS)):
                raise ValueError(f"ligand atom types {missing} have no AD4 map")
        stage = "dock"
        v.set_ligand_from_string(pdbqt)
        v.dock(exhaustiveness=setup.exhaustiveness, n_poses=setup.n_poses, max_evals=setup.max_evals)
        energy = float(v.energies(n_poses=1)[0][0])
        if not math.isfinite(energy):
            raise RuntimeError(f"non-finite energy {energy}")
        return energy, None
    except Exception as err:  # noqa: BLE001 - reported per molecule, counted by stage
        return None, f"{stage}: {type(err).__name__}: {str(err).strip()[:300]}"


def _init_worker(setup: _Setup) -> None:
    _vina(setup)


class DockingOracle:
    """SMILES -> docking energy (kcal/mol, lower is better; ``negate=True`` gives -E for maximisers).

    ``DockingOracle("esr1")("CCO")`` docks one molecule; ``.batch(smiles)`` docks a list, over a
    pool of ``n_workers`` processes (Vina holds the GIL) when ``n_workers > 1``, with the same
    energies as serial for the same ``seed``. Pass it to ``Oracle(DockingOracle(...), budget)``,
    which then scores each call's new molecules through ``batch``. Failures come back as None and
    are counted in ``failures`` (by stage) with the last messages in ``errors``.

    ``seed`` seeds both the ETKDG embedding and Vina (Vina reads 0 as "random", so it must be >= 1).
    ``cpu`` is Vina's thread count per process. ``start_method`` defaults to ``fork`` on Linux:
    a spawned worker would re-import torch and Lightning through the package, some 10 s each.
    """

    def __init__(self, target: str = "esr1", *, exhaustiveness: int = 8, n_poses: int = 1, seed: int = 1,
                 n_workers: int = 1, cpu: int = 1, scoring: Scoring | None = None, max_evals: int = 0,
                 negate: bool = False, start_method: Literal["fork", "spawn", "forkserver"] | None = None) -> None:
        check_choice("target", target, sorted(TARGETS))
        check_choice("scoring", scoring, ("ad4", "vina", "vinardo", None))
        for name, value, low in (("exhaustiveness", exhaustiveness, 1), ("n_poses", n_poses, 1), ("seed", seed, 1),
                                 ("n_workers", n_workers, 1), ("cpu", cpu, 0), ("max_evals", max_evals, 0)):
            check_int(name, value, low=low)
        check_choice("start_method", start_method, ("fork", "spawn", "forkserver", None))
        _require()
        self.target, self.n_workers, self.negate = target, n_workers, negate
        self.start_method = start_method or ("fork" if sys.platform.startswith("linux") else "spawn")
        self.setup = _resolve(target, scoring, exhaustiveness=exhaustiveness, n_poses=n_poses, seed=seed,
                              cpu=cpu, max_evals=max_evals)
        self.calls = 0
        self.failures: Counter[str] = Counter()
        self.errors: deque[tuple[str, str]] = deque(maxlen=50)
        self._pool: ProcessPoolExecutor | None = None
        if n_workers == 1:
            _vina(self.setup)  # load maps / receptor now: a broken set-up fails here, not per molecule

    @property
    def failure_rate(self) -> float:
        return sum(self.failures.values()) / self.calls if self.calls else 0.0

    def __call__(self, smiles: str) -> float | None:
        return self.batch([smiles])[0]

    def batch(self, smiles: Sequence[str]) -> list[float | None]:
        """Dock a list of SMILES; None where a molecule failed (see ``failures`` / ``errors``)."""
        smiles = list(smiles)
        if self.n_workers > 1 and len(smiles) > 1:
            results = list(self._executor().map(partial(dock_smiles, self.setup), smiles))
        else:
            results = [dock_smiles(self.setup, s) for s in smiles]
        out: list[float | None] = []
        for s, (energy, err) in zip(smiles, results):
            self.calls += 1
            if err is not None:
                self.failures[err.split(":", 1)[0]] += 1
                self.errors.append((s, err))
                log.info("docking %s failed for %s: %s", self.target, s, err)
            out.append(None if energy is None else (-energy if self.negate else energy))
        if failed := sum(r[1] is not None for r in results):
            log.warning("docking %s: %d/%d molecules failed (all failures so far, by stage: %s)",
                        self.target, failed, len(smiles), dict(self.failures))
        return out

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.n_workers, mp_context=mp.get_context(self.start_method),
                                             initializer=_init_worker, initargs=(self.setup,))
        return self._pool

    def close(self) -> None:
        """Shut the worker pool down (it is also shut when the oracle is garbage-collected)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> DockingOracle:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_pool": None}
