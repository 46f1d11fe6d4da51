"""Langevin settings: the frozen ``LangevinSchedule`` and the one validator every entry point uses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["METHOD_NAMES", "DivergenceError", "LangevinSchedule", "check_settings"]

Method = Literal["ula", "mala", "anisotropic"]
METHOD_NAMES: tuple[str, ...] = ("ula", "mala", "anisotropic")


class DivergenceError(ValueError):
    """A chain produced a NaN/inf energy or sample; the message names the step."""


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite_real(name: str, value: object, *, allow_zero: bool) -> None:
    rule = ">= 0" if allow_zero else "> 0"
    if not _is_real(value) or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}={value!r} is not allowed; it must be a finite number {rule}")


def check_settings(
    n_steps: object,
    step_size: object,
    noise_scale: object,
    method: object,
    clip_grad: object,
    threshold: object,
) -> None:
    """Raise ``ValueError`` naming the first bad argument, its value and what is allowed."""
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 0:
        raise ValueError(f"n_steps={n_steps!r} is not allowed; it must be an int >= 0")
    if method not in METHOD_NAMES:
        raise ValueError(f"method={method!r} is not allowed; valid methods: {', '.join(METHOD_NAMES)}")
    # MALA divides by the proposal variance (step_size * noise_scale)**2, so both must be > 0.
    strict = method == "mala"
    _finite_real("step_size", step_size, allow_zero=not strict)
    _finite_real("noise_scale", noise_scale, allow_zero=not strict)
    if clip_grad is not None:
        _finite_real("clip_grad", clip_grad, allow_zero=False)
    _finite_real("threshold", threshold, allow_zero=False)


@dataclass(frozen=True)
class LangevinSchedule:
    """Grouped Langevin settings, usable as a config value (see :func:`langevin` for meanings).

    ``threshold`` is used by ``method="anisotropic"`` only. Validated on construction.
    """

    n_steps: int = 20
    step_size: float = 0.1
    noise_scale: float = 1.0
    method: Method = "ula"
    clip_grad: float | None = None
    threshold: float = 1.0

    def __post_init__(self) -> None:
        check_settings(
            self.n_steps, self.step_size, self.noise_scale, self.method, self.clip_grad,
            self.threshold,
        )
