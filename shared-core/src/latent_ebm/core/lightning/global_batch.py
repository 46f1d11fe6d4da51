"""A global batch that stays the same whatever the number of devices.

Papers state the batch of one optimiser step over all devices (LTM: 512 sequences); a config
that gives only the per-device batch trains on fewer examples per step on fewer GPUs. Given the
global batch, :func:`apply_global_batch` sets the Trainer's ``accumulate_grad_batches`` to
``global / (per_device * world_size)`` at setup, as the first-party LTM code divides its
accumulation by the world size.
"""

from __future__ import annotations

from typing import Any

from ..checks import check_int, not_allowed

__all__ = ["accumulation_steps", "apply_global_batch"]


def accumulation_steps(global_batch: int, per_device: int, world_size: int) -> int:
    """Micro-batches per optimiser step so that ``per_device * world_size * steps == global_batch``."""
    check_int("global_batch_size", global_batch, low=1)
    check_int("batch_size", per_device, low=1)
    check_int("world_size", world_size, low=1)
    per_step = per_device * world_size
    if global_batch % per_step:
        raise not_allowed("global_batch_size", global_batch,
                          f"it must be a multiple of batch_size x devices = {per_device} x {world_size} = {per_step}")
    return global_batch // per_step


def apply_global_batch(trainer: Any, global_batch: int | None, per_device: int) -> int:
    """Set ``trainer.accumulate_grad_batches`` for ``global_batch`` (None: leave it) and return it.

    A Trainer given its own ``accumulate_grad_batches`` that disagrees is an error, never
    silently overridden."""
    current = int(getattr(trainer, "accumulate_grad_batches", 1))
    if global_batch is None:
        return current
    steps = accumulation_steps(global_batch, per_device, int(getattr(trainer, "world_size", 1)))
    if current not in (1, steps):
        raise not_allowed("trainer.accumulate_grad_batches", current,
                          f"global_batch_size={global_batch} sets it to {steps}; give one of the two")
    trainer.accumulate_grad_batches = steps
    return steps
