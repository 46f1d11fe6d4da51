"""LEO's data: an offline task's training set as batches {"x", "y", "index"}, y standardised.

The validation split is a seeded ``val_fraction`` of the task's training set (the offline
protocol has no other labelled data); ``test`` runs on the same split, and its headline numbers
are the design scores that the module logs from the task's oracle (``test/score_p100``).
"""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from latent_ebm.core.checks import check_choice, check_int, check_real, not_allowed
from latent_ebm.core.data import epoch_loader

from .tasks import TASKS, OfflineTask, make_task

__all__ = ["LEODataModule", "TaskDataset"]


class TaskDataset(Dataset):
    """Rows of (x, y): {"x": (L,) or (D,), "y": () standardised, "index": ()}."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i], "index": torch.tensor(i)}


class LEODataModule(L.LightningDataModule):
    """One task of :mod:`latent_ebm.leo.tasks` (or a user's :class:`OfflineTask`: :meth:`from_task`).

    Args: task (name), n_train (training rows; None: the task's default), length (synthetic-seq),
        dim (ackley / rastrigin / branin / mixture; None: 20, 2 for branin), val_fraction, batch_size, seed (task subsample and split), predict_n (how
        many designs ``predict`` proposes; ``predict --n N`` sets it).
    After ``setup``: ``task``, ``y_mean`` / ``y_std`` (the standardisation), ``y_best`` (the
    standardised training best, which the module reads at fit start for y*).
    """

    def __init__(self, task: str = "synthetic-seq", n_train: int | None = None, length: int = 8, dim: int | None = None,
                 val_fraction: float = 0.1, batch_size: int = 128, seed: int = 0, predict_n: int = 128) -> None:
        super().__init__()
        check_choice("task", task, TASKS)
        check_int("n_train", n_train, low=1, allow_none=True)
        check_int("length", length, low=2, high=10)
        check_int("dim", dim, low=1, allow_none=True)
        check_real("val_fraction", val_fraction, low=0.0, high=1.0, high_open=True)
        check_int("batch_size", batch_size, low=1)
        check_int("seed", seed, low=0)
        check_int("predict_n", predict_n, low=1)
        self.predict_n = predict_n
        self.save_hyperparameters()
        self.task: OfflineTask | None = None
        self.y_best: float | None = None

    @classmethod
    def from_task(cls, task: OfflineTask, **kwargs) -> LEODataModule:
        """A data module over a user's own :class:`OfflineTask` (``kwargs``: the other settings)."""
        if not isinstance(task, OfflineTask):
            raise not_allowed("task", type(task).__name__, "give an OfflineTask")
        dm = cls(**kwargs)
        dm.task = task
        return dm

    def setup(self, stage: str | None = None) -> None:
        h = self.hparams
        if self.task is None:
            self.task = make_task(h.task, n_train=h.n_train, seed=h.seed, length=h.length, dim=h.dim)
        x, y = self.task.x_train, self.task.y_train
        n_val = int(len(x) * h.val_fraction)
        if len(x) - n_val < 1:
            raise not_allowed("n_train", len(x), "the training split is empty; give more rows or a smaller val_fraction")
        self.y_mean, self.y_std = float(y.mean()), float(y.std().clamp_min(1e-8)) if len(y) > 1 else 1.0
        ys = (y - self.y_mean) / self.y_std
        self.y_best = float(ys.max())
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(h.seed))
        val, train = perm[:n_val], perm[n_val:]
        self.train_set = TaskDataset(x[train], ys[train])
        self.val_set = TaskDataset(x[val], ys[val]) if n_val else TaskDataset(x[train[:1]], ys[train[:1]])

    def train_dataloader(self) -> DataLoader:
        # (seed, epoch)-keyed order that resumes exactly, in mid-epoch too (the core's epoch_loader)
        return epoch_loader(self.train_set, self.hparams.batch_size, seed=self.hparams.seed, trainer=self.trainer)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=1024)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def predict_dataloader(self) -> DataLoader:
        """``predict_n`` placeholder rows: the module proposes one design per row."""
        x = self.train_set.x[:1].expand(self.predict_n, -1).clone()
        return DataLoader(TaskDataset(x, torch.zeros(self.predict_n)), batch_size=self.predict_n)
