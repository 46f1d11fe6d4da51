"""Gather what the GPU machine lacks into ``.gpu-carry/`` (git-ignored), for ``scripts/gpu-check.sh``.

    python scripts/gpu_prepare.py            # then carry ".gpu-carry" in the device call

The lent GPU machine (Python 3.12, PyTorch, Lightning, torchdiffeq, torchmetrics, tokenizers,
tensorboard, rich, pillow, matplotlib; no network) lacks what the suite adds: jsonargparse (the
CLI), rdkit and selfies (lpt-mol). Their wheels for CPython 3.12 on manylinux x86-64 go to
``.gpu-carry/wheels``; the datasets the chosen jobs read go to ``.gpu-carry/data`` (copied from
``LATENT_EBM_DATA_DIR``, laid out as the data cache). What travels must stay under 64 MiB with the
working tree, so the script refuses to leave more than 56 MiB: rdkit (36 MiB) and Fashion-MNIST
(30 MiB) do not fit together, so the cdrl-fashion job goes in a run prepared with
``--jobs cdrl-fashion --no-chemistry``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARRY = ROOT / ".gpu-carry"
WHEELS = ("jsonargparse==4.53.0", "docstring-parser==0.17.0", "typeshed-client==2.8.2", "importlib-resources==6.5.2")
CHEMISTRY = ("rdkit==2025.9.1", "selfies==2.2.0")  # lpt-mol's tiny config and the lpt-train job (36 MiB)
DATASETS = {"lpt-train": ("zinc250k",), "ltm-shakespeare": ("tinyshakespeare",), "ode-lebm-seeds": (),
            "cdrl-fashion": ("fashion-mnist",)}  # 3 / 1 / 0 / 30 MiB
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
LIMIT_MB = 56


def _pip() -> list[str]:
    """This interpreter's pip, or the first pip on PATH (uv's environments have none)."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    found = shutil.which("pip") or shutil.which("pip3")
    if found is None:
        raise SystemExit("error: no pip found (install it, or run with an interpreter that has it)")
    return [found]


def download_wheels(dest: Path, specs: tuple[str, ...]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    for spec in specs:
        subprocess.run([*_pip(), "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(dest), spec],
                       check=True)


def copy_data(dest: Path, datasets: tuple[str, ...]) -> None:
    src = Path(os.environ.get("LATENT_EBM_DATA_DIR", "~/.cache/latent-ebm")).expanduser()
    for name in datasets:
        if not (src / name).is_dir():
            print(f"warning: {src / name} is missing; the jobs that read {name} will fail there", file=sys.stderr)
            continue
        shutil.copytree(src / name, dest / name, dirs_exist_ok=True)


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", default="lpt-train,ltm-shakespeare,ode-lebm-seeds",
                   help="the jobs the next GPU run will reach (their data is copied); as gpu_check.py --jobs")
    p.add_argument("--no-chemistry", action="store_true",
                   help="leave rdkit and selfies out (lpt-mol is then skipped there): room for Fashion-MNIST")
    a = p.parse_args(argv)
    jobs = [j for j in a.jobs.split(",") if j]
    unknown = [j for j in jobs if j not in DATASETS]
    if unknown:
        print(f"error: jobs={unknown} is not allowed; choose from {sorted(DATASETS)}", file=sys.stderr)
        return 2
    shutil.rmtree(CARRY, ignore_errors=True)
    download_wheels(CARRY / "wheels", WHEELS + (() if a.no_chemistry else CHEMISTRY))
    copy_data(CARRY / "data", tuple(d for j in jobs for d in DATASETS[j]))
    total = size_mb(CARRY)
    print(f"{CARRY}: {total:.1f} MiB ({size_mb(CARRY / 'wheels'):.1f} MiB of wheels)")
    if total > LIMIT_MB:
        print(f"error: {total:.1f} MiB is over the {LIMIT_MB} MiB that may travel beside the tree", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
