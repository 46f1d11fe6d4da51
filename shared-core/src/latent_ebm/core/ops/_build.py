"""Build-on-first-use of the compiled kernels in ``csrc/`` and the backend choice.

The extension is built with ``torch.utils.cpp_extension.load`` into the torch extension cache
(``$TORCH_EXTENSIONS_DIR`` or ``~/.cache/torch_extensions``). Its name carries a hash of the
sources, the flags, the torch version and install path and the CPU, so a stale or foreign build is never reused,
while a second process with the same sources loads the cached library without compiling.
A failed build falls back to the torch reference after one warning that says why.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import sys
import warnings
from pathlib import Path
from types import ModuleType

import torch

__all__ = ["ENV_VAR", "csrc_dir", "forced_backend", "load_cpp", "load_cuda"]

ENV_VAR = "LATENT_EBM_OPS"
_CHOICES = ("torch", "cpp", "cuda")
_FAILURES: dict[str, str] = {}
BUILD_COUNT = {"cpp": 0, "cuda": 0}  # compilations attempted in this process (tests read it)


def forced_backend() -> str | None:
    """The backend named by ``$LATENT_EBM_OPS`` (None when unset or empty)."""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if not value:
        return None
    if value not in _CHOICES:
        raise ValueError(f"{ENV_VAR}={value!r} is not allowed; choose one of {', '.join(_CHOICES)}")
    return value


def csrc_dir() -> Path | None:
    """Kernel sources: the copy packaged in the wheel first, else ``csrc/`` at the repo root."""
    here = Path(__file__).resolve()
    packaged = here.parents[1] / "csrc"
    if (packaged / "philox.h").is_file():
        return packaged
    for parent in here.parents:
        if (parent / "csrc" / "philox.h").is_file():
            return parent / "csrc"
    return None


def _cpu_tag() -> str:
    tag = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return tag + line
    except OSError:
        pass
    return tag + platform.processor()


def _name(kind: str, sources: list[Path], flags: list[str]) -> str:
    h = hashlib.sha256()
    for p in sources:
        h.update(p.read_bytes())
    h.update(" ".join(flags).encode())
    # torch's install path too: each virtual environment has its own include paths, and a build
    # directory shared between environments would be rebuilt by ninja on every switch.
    torch_dir = Path(torch.__file__).resolve().parent
    h.update(f"{torch.__version__}|{torch_dir}|{sys.version_info[:2]}|{_cpu_tag()}".encode())
    return f"latent_ebm_ops_{kind}_{h.hexdigest()[:12]}"


def _cpu_flags() -> list[str]:
    flags = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-std=c++17"]
    if platform.machine() in ("x86_64", "AMD64"):
        flags.append("-march=native")
    if sys.platform != "darwin":
        flags.append("-fopenmp")
    return flags


def _fail(kind: str, reason: str, required: bool) -> None:
    _FAILURES[kind] = reason
    if required:
        raise RuntimeError(
            f"{ENV_VAR}={kind} was requested but the {kind} kernels are unavailable: {reason}"
        )
    warnings.warn(
        f"latent_ebm.core.ops: the {kind} kernels are unavailable ({reason}); "
        "using the torch reference (same results, slower). Set LATENT_EBM_OPS=torch to silence.",
        RuntimeWarning,
        stacklevel=3,
    )


def _load(kind: str, sources: list[Path], cflags: list[str], deps: list[Path], **kw) -> ModuleType:
    from torch.utils import cpp_extension

    BUILD_COUNT[kind] += 1
    src = csrc_dir()
    return cpp_extension.load(
        name=_name(kind, sources + deps, cflags + kw.get("extra_cuda_cflags", [])),
        sources=[str(p) for p in sources],
        extra_cflags=cflags,
        extra_ldflags=["-fopenmp"] if "-fopenmp" in cflags else [],
        extra_include_paths=[str(src)],
        verbose=os.environ.get("LATENT_EBM_OPS_VERBOSE", "") == "1",
        **kw,
    )


@functools.cache
def _load_cpp_cached() -> ModuleType | None:
    src = csrc_dir()
    if src is None:
        return None
    return _load(
        "cpp",
        [src / "langevin_cpu.cpp"],
        _cpu_flags(),
        deps=[src / "philox.h", src / "philox_simd.h"],
    )


def load_cpp(required: bool = False) -> ModuleType | None:
    """The C++ (OpenMP) extension, built once per process; None (after one warning) if it fails."""
    if "cpp" in _FAILURES:
        if required:
            _fail("cpp", _FAILURES["cpp"], True)
        return None
    try:
        mod = _load_cpp_cached()
    except Exception as e:  # compiler missing, compile error, ...  # noqa: BLE001
        _fail(
            "cpp",
            f"build failed: {type(e).__name__}: {str(e).strip()[-400:]}; LATENT_EBM_OPS_VERBOSE=1 shows the compiler output",
            required,
        )
        return None
    if mod is None:
        _fail("cpp", "kernel sources csrc/ not found next to the package or in the repo", required)
    return mod


@functools.cache
def _load_cuda_cached() -> ModuleType | None:
    src = csrc_dir()
    if src is None:
        return None
    return _load(
        "cuda",
        [src / "langevin_cuda.cu"],
        ["-O3", "-std=c++17"],
        [src / "philox.h"],
        extra_cuda_cflags=["-O3", "-std=c++17"],
    )


def load_cuda(required: bool = False) -> ModuleType | None:
    """The CUDA extension (only with a GPU and nvcc), built once per process; else None."""
    if "cuda" in _FAILURES:
        if required:
            _fail("cuda", _FAILURES["cuda"], True)
        return None
    if not torch.cuda.is_available():
        reason = "torch.cuda.is_available() is False"
    elif torch.version.cuda is None:
        reason = "this torch build has no CUDA"
    elif shutil.which("nvcc") is None and not os.environ.get("CUDA_HOME"):
        reason = "nvcc not found (set CUDA_HOME)"
    else:
        try:
            mod = _load_cuda_cached()
        except Exception as e:  # noqa: BLE001
            _fail(
                "cuda",
                f"build failed: {type(e).__name__}: {str(e).strip()[-400:]}; LATENT_EBM_OPS_VERBOSE=1 shows the compiler output",
                required,
            )
            return None
        if mod is not None:
            return mod
        reason = "kernel sources csrc/ not found next to the package or in the repo"
    _fail("cuda", reason, required)
    return None
