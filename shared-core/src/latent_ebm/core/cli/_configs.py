"""Shipped configs: ``--config tiny`` -> ``<config_package>/tiny.yaml``."""

from __future__ import annotations

import importlib.resources
import os
from contextlib import ExitStack
from pathlib import Path

__all__ = ["available_configs", "resolve_config", "resolve_config_args"]

_SUFFIXES = (".yaml", ".yml")


def _root(config_package: str | os.PathLike):
    """A Traversable for a package name (``"latent_ebm.lebm.configs"``) or a folder path."""
    if isinstance(config_package, os.PathLike) or os.path.isdir(str(config_package)):
        return Path(config_package)
    try:
        return importlib.resources.files(str(config_package))
    except ModuleNotFoundError as err:
        raise ValueError(
            f"config_package={config_package!r}: no such package or folder ({err})"
        ) from None


def available_configs(config_package: str | os.PathLike) -> dict[str, object]:
    """Shipped config name -> Traversable, for every ``*.yaml`` / ``*.yml`` in the package."""
    out = {}
    for entry in _root(config_package).iterdir():
        name = entry.name
        if entry.is_file() and name.endswith(_SUFFIXES):
            out.setdefault(name.rsplit(".", 1)[0], entry)
    return dict(sorted(out.items()))


def _looks_inline(value: str) -> bool:
    return any(c in value for c in "{}:\n")


def resolve_config(
    value: str, config_package: str | os.PathLike | None, stack: ExitStack | None = None
) -> str:
    """``value`` if it is a file (or inline YAML), else the path of the shipped config so named.

    Raises ``ValueError`` listing the shipped names when ``value`` is neither.
    """
    if Path(value).expanduser().is_file() or _looks_inline(value):
        return value
    if config_package is None:
        raise ValueError(
            f"--config={value!r}: no such file (and this command ships no named configs)"
        )
    configs = available_configs(config_package)
    stem = (
        value[: -len(s)] if (s := next((s for s in _SUFFIXES if value.endswith(s)), "")) else value
    )
    if stem not in configs:
        raise ValueError(
            f"--config={value!r} is neither a file nor a shipped config of {config_package}; "
            f"expected a path or one of {sorted(configs)}"
        )
    entry = configs[stem]
    if isinstance(entry, Path):
        return str(entry)
    stack = stack if stack is not None else ExitStack()
    return str(stack.enter_context(importlib.resources.as_file(entry)))


def resolve_config_args(
    args: list[str], config_package: str | os.PathLike | None, stack: ExitStack | None = None
) -> list[str]:
    """Rewrite every ``--config NAME`` / ``-c NAME`` / ``--config=NAME`` in ``args``."""
    out = list(args)
    i = 0
    while i < len(out):
        tok = out[i]
        if tok in ("-c", "--config") and i + 1 < len(out):
            out[i + 1] = resolve_config(out[i + 1], config_package, stack)
            i += 2
            continue
        if tok.startswith("--config="):
            out[i] = "--config=" + resolve_config(tok.split("=", 1)[1], config_package, stack)
        i += 1
    return out
