"""A training-order sampler that resumes exactly, at an epoch boundary or in mid-epoch."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = ["EpochShuffle", "batches_done_in_epoch", "epoch_loader"]


class EpochShuffle(Sampler[int]):
    """A permutation of ``range(n)`` drawn from (seed, epoch) alone.

    Lightning calls ``set_epoch`` at every epoch, so a run resumed at an epoch boundary sees the
    same order as an uninterrupted one (a plain ``shuffle=True`` loader draws from the global RNG).
    For a run resumed in mid-epoch, :meth:`skip_seen` drops the indices the interrupted run
    already consumed from that epoch's permutation (see :meth:`resume_from`); ``len`` stays ``n``,
    so Lightning counts the epoch as whole and ends it when the shortened iterator runs out.
    """

    def __init__(self, n: int, seed: int = 0) -> None:
        if n < 0:
            raise ValueError(f"n={n} is not allowed; it must be >= 0")
        self.n, self.seed, self.epoch = n, seed, 0
        self._skip: tuple[int, int] | None = None  # (epoch, indices already seen in it)
        self._resume: tuple[str, int] | None = None  # (checkpoint, batch size) read at the first __iter__

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def skip_seen(self, epoch: int, n_seen: int) -> EpochShuffle:
        """Start ``epoch``'s permutation at position ``n_seen``; every other epoch is whole."""
        if not 0 <= n_seen <= self.n:
            raise ValueError(f"n_seen={n_seen} is not allowed; it must be in [0, n={self.n}]")
        self._skip = (epoch, n_seen) if n_seen else None
        return self

    def resume_from(self, trainer: Any, batch_size: int) -> EpochShuffle:
        """Skip what a fit restored from a mid-epoch checkpoint already trained on:
        :func:`batches_done_in_epoch` x ``batch_size`` indices of the checkpoint's epoch. A no-op
        for a fresh fit, a resume at an epoch boundary, or no trainer."""
        loop = getattr(trainer, "fit_loop", None)
        pending = getattr(trainer, "ckpt_path", None)
        if loop is not None and pending and not loop.restarting:
            # built before the checkpoint was restored (``estimated_stepping_batches`` asks for the
            # loader early): read its progress from the file when iteration starts (see __iter__)
            self._resume = (str(pending), batch_size)
            return self
        epoch, done = batches_done_in_epoch(trainer)
        return self.skip_seen(epoch, min(done * batch_size, self.n)) if done else self

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        if getattr(self, "_resume", None) is not None:
            path, batch_size = self._resume
            self._resume = None
            epoch, done = _checkpoint_progress(path)
            if done:
                self.skip_seen(epoch, min(done * batch_size, self.n))
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.n, generator=gen)
        if self._skip is not None and self._skip[0] == self.epoch:
            order = order[self._skip[1] :]
        return iter(order.tolist())


def _checkpoint_progress(path: str) -> tuple[int, int]:
    """``(epoch, batches)`` of :func:`batches_done_in_epoch`, read from a checkpoint file."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        loop = ckpt["loops"]["fit_loop"]
        epoch = loop["epoch_progress"]["current"]
        if epoch["completed"] >= epoch["ready"]:
            return (int(ckpt["epoch"]) + 1, 0)
        return (int(ckpt["epoch"]), int(loop["epoch_loop.batch_progress"]["current"]["processed"]))
    except (OSError, KeyError, RuntimeError):  # not a Lightning fit checkpoint: nothing to skip
        return (0, 0)


def batches_done_in_epoch(trainer: Any) -> tuple[int, int]:
    """``(epoch, batches)``: the training batches a fit restored from a checkpoint had completed in
    its current epoch (Lightning restores the loops' progress before it asks for the dataloaders);
    ``(epoch, 0)`` for a fresh fit or an epoch-boundary checkpoint, ``(0, 0)`` without a trainer.
    A checkpoint saved after a fit stopped at ``max_steps`` has its epoch closed by Lightning: the
    resumed fit starts the next epoch whole, as Lightning does (0 batches to skip).

    Single process only: under DDP Lightning wraps the sampler in a distributed one that needs
    its full length, so the interrupted epoch is replayed from its start (Lightning's own
    behaviour), with a warning.
    """
    loop = getattr(trainer, "fit_loop", None)
    if loop is None or not getattr(loop, "restarting", False):
        return (int(getattr(trainer, "current_epoch", 0) or 0), 0)
    epoch = loop.epoch_progress.current
    if epoch.completed >= epoch.ready:  # saved after the fit ended: Lightning closed that epoch
        return (trainer.current_epoch, 0)
    # a checkpoint written in on_train_batch_end counts its batch as processed, not yet completed
    done = int(loop.epoch_loop.batch_progress.current.processed)
    if done and getattr(trainer, "world_size", 1) > 1:
        warnings.warn(f"resuming in mid-epoch under {trainer.world_size} processes: the epoch's first {done} "
                      "batches are trained on again (mid-epoch skipping is single-process only)", stacklevel=2)
        return (trainer.current_epoch, 0)
    return (trainer.current_epoch, done)


def epoch_loader(dataset: Dataset, batch_size: int, *, seed: int, trainer: Any = None, **kwargs: Any) -> DataLoader:
    """A training DataLoader that resumes exactly, at an epoch boundary or in mid-epoch: its
    sampler is ``EpochShuffle(len(dataset), seed)`` skipping what a restored checkpoint already
    trained on (:meth:`EpochShuffle.resume_from` with ``trainer``), and it draws its workers' base
    seed from its own generator, so starting an epoch leaves torch's global RNG (dropout masks)
    where the uninterrupted run leaves it. ``kwargs`` go to the DataLoader (``drop_last``, ...)."""
    sampler = EpochShuffle(len(dataset), seed).resume_from(trainer, batch_size)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, generator=generator, **kwargs)
