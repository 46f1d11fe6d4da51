"""Per-package sessions for latent-ebm: ``tests-<pkg>``, ``lint-<pkg>``, ``demo-<pkg>``, ``bench-<pkg>``.

Packages are discovered from the folders (``shared-core`` and ``packages/*`` holding a
``pyproject.toml``), so a new method package needs no edit here. Tags group them:
``nox -t tests`` runs every package's tests, each in its own virtual environment.

Each session installs the core and the package editable with uv. Where pip is configured with
local find-links that hold a torch wheel (a CPU wheel on CI machines), the same find-links and
the constraints in ``.ci/constraints.txt`` are passed to uv, which does not read pip's
configuration; elsewhere torch resolves from the index as usual.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CORE = ROOT / "shared-core"
CONSTRAINTS = ROOT / ".ci" / "constraints.txt"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False


def _discover() -> dict[str, Path]:
    found = {"core": CORE}
    for pyproject in sorted((ROOT / "packages").glob("*/pyproject.toml")):
        found[pyproject.parent.name] = pyproject.parent
    return found


def _pip_find_links() -> list[str]:
    """Local find-links from pip's configuration files and environment (uv ignores both)."""
    files = [
        Path("/etc/pip.conf"),
        Path("/etc/xdg/pip/pip.conf"),
        Path.home() / ".config" / "pip" / "pip.conf",
        Path.home() / ".pip" / "pip.conf",
    ]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    values = [os.environ.get("PIP_FIND_LINKS", "")]
    for path in files:
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except (OSError, configparser.Error):
            continue
        for section in ("global", "install"):
            values.append(parser.get(section, "find-links", fallback=""))
    links = [v for value in values for v in value.split()]
    return [link for link in dict.fromkeys(links) if Path(link).is_dir()]


def _uv_env() -> dict[str, str]:
    env: dict[str, str] = {}
    links = os.environ.get("UV_FIND_LINKS", "").split() or _pip_find_links()
    has_local_torch = any(any(Path(d).glob("torch-*.whl")) for d in links)
    if links:
        env["UV_FIND_LINKS"] = " ".join(links)
    if has_local_torch and CONSTRAINTS.exists() and "UV_CONSTRAINT" not in os.environ:
        env["UV_CONSTRAINT"] = str(CONSTRAINTS)
    return env


PACKAGES = _discover()
UV_ENV = _uv_env()


def _install(session: nox.Session, path: Path, extras: str = "test") -> None:
    session.env.update(UV_ENV)
    targets = ["-e", str(CORE)]
    if path != CORE:
        targets += ["-e", f"{path}[{extras}]" if _has_extra(path, extras) else str(path)]
    elif _has_extra(CORE, extras):
        targets = ["-e", f"{CORE}[{extras}]"]
    session.install(*targets, "pytest>=8", "pytest-timeout>=2", "pytest-xdist>=3")


def _has_extra(path: Path, extra: str) -> bool:
    text = (path / "pyproject.toml").read_text()
    return re.search(rf"^\s*{re.escape(extra)}\s*=\s*\[", text, re.MULTILINE) is not None


def private_core_imports(path: Path) -> list[str]:
    """``file:line: module`` of every import of a private core module or name under ``path``
    (a part or a name starting with one underscore, e.g. ``latent_ebm.core.lightning._base``)."""

    def private(dotted: str) -> bool:
        return any(p.startswith("_") and not p.startswith("__") for p in dotted.split("."))

    hits = []
    for py in sorted(path.rglob("*.py")):
        if ".nox" in py.parts or ".venv" in py.parts:
            continue
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("latent_ebm.core"):
                names = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("latent_ebm.core")]
            else:
                continue
            hits += [f"{py.relative_to(ROOT)}:{node.lineno}: {n}" for n in names if private(n)]
    return hits


def _data_env(session: nox.Session) -> None:
    shared = ROOT.parent / "shared" / "data"
    if "LATENT_EBM_DATA_DIR" not in os.environ and shared.is_dir():
        session.env["LATENT_EBM_DATA_DIR"] = str(shared)


@nox.session(name="docs", tags=["docs"])
def docs(session: nox.Session) -> None:
    """Build the documentation site (mkdocs-material + mkdocstrings) with --strict into site/."""
    session.env.update(UV_ENV)
    session.install("mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26")
    session.env["NO_MKDOCS_2_WARNING"] = "1"
    session.run("mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"))


@nox.session(name="gpu-dry", tags=["gpu"])
def gpu_dry(session: nox.Session) -> None:
    """The prepared GPU check, every step on the CPU at toy sizes (scripts/gpu-check.sh --dry-run),
    so it cannot rot between the times a GPU is lent; all packages in one environment."""
    session.env.update(UV_ENV)
    targets = [arg for path in PACKAGES.values() for arg in ("-e", str(path))]
    session.install(*targets, "pytest>=8", "matplotlib>=3.7")
    _data_env(session)
    out = Path(session.create_tmp()) / "gpu-check"
    session.run("bash", str(ROOT / "scripts" / "gpu-check.sh"), "--out", str(out), "--dry-run", external=True)


for _name, _path in PACKAGES.items():

    @nox.session(name=f"tests-{_name}", tags=["tests"])
    def tests(session: nox.Session, path: Path = _path) -> None:
        """Run one package's tests (CPU; CUDA tests skip without a GPU), on ``LATENT_EBM_TEST_WORKERS``
        pytest-xdist workers (default 2: each test runs one torch thread, so two use both cores
        of a CI machine; 0 runs in this process)."""
        _install(session, path)
        _data_env(session)
        workers = os.environ.get("LATENT_EBM_TEST_WORKERS", "2")
        session.run("pytest", str(path / "tests"), "-q", "-ra", "-n", workers, "--durations=5", *session.posargs)

    @nox.session(name=f"lint-{_name}", tags=["lint"])
    def lint(session: nox.Session, path: Path = _path) -> None:
        """ruff over one package, with the repository's ruff configuration; a method package
        must not import the core's private modules (``latent_ebm.core.<...>._name``)."""
        session.install("ruff>=0.6")
        session.run("ruff", "check", str(path))
        hits = private_core_imports(path) if path != CORE else []
        if hits:
            session.error("imports of the core's private modules (the core exports what packages "
                          "need; ask for it there):\n" + "\n".join(hits))

    if any(_path.glob("src/latent_ebm/*/configs/demo.yaml")):

        @nox.session(name=f"demo-{_name}", tags=["demo"])
        def demo(session: nox.Session, name: str = _name, path: Path = _path) -> None:
            """Fit the package's ``demo`` config (minutes on CPU; on the data it names, which its
            README says is offline or downloaded once)."""
            _install(session, path)
            _data_env(session)
            session.run(f"latent-ebm-{name}", "fit", "--config", "demo", *session.posargs)

    if any((_path / "benchmarks").glob("*.py")):

        @nox.session(name=f"bench-{_name}", tags=["bench"])
        def bench(session: nox.Session, path: Path = _path) -> None:
            """Run every benchmark script of one package; results land in benchmarks/results/."""
            _install(session, path, extras="bench")
            session.install("matplotlib>=3.7")
            _data_env(session)
            for script in sorted((path / "benchmarks").glob("*.py")):
                if not script.name.startswith("_"):
                    session.run("python", str(script), *session.posargs)
