"""Langevin settings: the frozen ``LangevinSchedule`` and the one validator every entry point uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from latent_ebm.core.checks import check_choice, check_int, check_real

__all__ = ["METHOD_NAMES", "DivergenceError", "LangevinSchedule", "check_settings"]

Method = Literal["ula", "mala", "anisotropic"]
METHOD_NAMES: tuple[str, ...] = ("ula", "mala", "anisotropic")
Granularity = Literal["element", "pixel", "sample"]
GRANULARITIES: tuple[str, ...] = ("element", "pixel", "sample")


class DivergenceError(ValueError):
    """A chain produced a NaN/inf energy or sample; the message names the step."""


def check_settings(
    n_steps: object,
    step_size: object,
    noise_scale: object,
    method: object,
    clip_grad: object,
    threshold: object,
    granularity: object = "element",
) -> None:
    """Raise ``ValueError`` naming the first bad argument, its value and what is allowed."""
    check_int("n_steps", n_steps, low=0)
    check_choice("method", method, METHOD_NAMES)
    # MALA divides by the proposal variance (step_size * noise_scale)**2, so both must be > 0.
    strict = method == "mala"
    check_real("step_size", step_size, low=0.0, low_open=strict)
    check_real("noise_scale", noise_scale, low=0.0, low_open=strict)
    check_real("clip_grad", clip_grad, low=0.0, low_open=True, allow_none=True)
    check_real("threshold", threshold, low=0.0, low_open=True)
    check_choice("granularity", granularity, GRANULARITIES)


@dataclass(frozen=True)
class LangevinSchedule:
    """Grouped Langevin settings, usable as a config value (see :func:`langevin` for meanings).

    ``threshold`` and ``granularity`` are used by ``method="anisotropic"`` only. Validated on
    construction.
    """

    n_steps: int = 20
    step_size: float = 0.1
    noise_scale: float = 1.0
    method: Method = "ula"
    clip_grad: float | None = None
    threshold: float = 1.0
    granularity: Granularity = "element"

    def __post_init__(self) -> None:
        check_settings(
            self.n_steps, self.step_size, self.noise_scale, self.method, self.clip_grad,
            self.threshold, self.granularity,
        )
