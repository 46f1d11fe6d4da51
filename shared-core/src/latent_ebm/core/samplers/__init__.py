"""Langevin samplers as plain functions over an energy callable, and persistent chains.

``langevin(energy, x0, n_steps, step_size, method="ula"|"mala"|"anisotropic", ...)``; methods
are looked up by name. See ``docs/core-api.md``.
"""

from ._chains import PersistentChains
from ._langevin import langevin, langevin_from_schedule
from ._schedule import DivergenceError, LangevinSchedule

__all__ = [
    "DivergenceError",
    "LangevinSchedule",
    "PersistentChains",
    "langevin",
    "langevin_from_schedule",
]
