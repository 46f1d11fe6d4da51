"""The one argument validator of the suite: every bad value raises the same kind of message.

``ValueError("name=value is not allowed; it must be ...")`` names the argument (as the user
wrote it: a dotted config path such as ``optim.lr`` where the value sits in a group), the value
and the rule. Every constructor and public entry point of the core and of the method packages
checks its input with these functions, so a message reads the same wherever it comes from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = ["as_shape", "check_choice", "check_int", "check_real", "not_allowed", "require"]


def not_allowed(name: str, value: Any, rule: str) -> ValueError:
    """The suite's error for a bad argument: ``name=value is not allowed; rule``."""
    return ValueError(f"{name}={value!r} is not allowed; {rule}")


def require(name: str, value: Any, ok: bool, rule: str) -> None:
    """Raise :func:`not_allowed` unless ``ok``; ``rule`` says what is allowed ("it must be ...")."""
    if not ok:
        raise not_allowed(name, value, rule)


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return " and ".join(parts)


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None,
              allow_none: bool = False) -> None:
    """An int (not a bool) in [low, high]; None too with ``allow_none``."""
    if value is None and allow_none:
        return
    ok = isinstance(value, int) and not isinstance(value, bool)
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        rule = "an int" + (f" {_bounds(low, high, False, False)}" if low is not None or high is not None else "")
        raise not_allowed(name, value, f"it must be {'None or ' if allow_none else ''}{rule}")


def check_real(name: str, value: Any, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, allow_none: bool = False) -> None:
    """A finite int or float (not a bool) within the bounds; ``*_open`` excludes the bound itself."""
    if value is None and allow_none:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        bounds = _bounds(low, high, low_open, high_open)
        rule = "a finite number" + (f" {bounds}" if bounds else "")
        raise not_allowed(name, value, f"it must be {'None or ' if allow_none else ''}{rule}")


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    """One of ``choices``; the message lists them."""
    choices = tuple(choices)
    if value not in choices:
        raise not_allowed(name, value, f"use one of {', '.join(repr(c) for c in choices)}")


def as_shape(shape: Any, name: str = "shape") -> tuple[int, ...]:
    """An int >= 1 or a non-empty sequence of them, as a tuple."""
    dims = (shape,) if isinstance(shape, int) and not isinstance(shape, bool) else shape
    ok = isinstance(dims, tuple | list) and len(dims) > 0
    ok = ok and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims)
    if not ok:
        raise not_allowed(name, shape, "it must be an int >= 1 or a non-empty tuple of them")
    return tuple(dims)
