"""The offline default data: a mixture of 8 Gaussians on a ring in 2-d, generated from a seed."""

from __future__ import annotations

import math

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from latent_ebm.core.checks import check_int, check_real
from latent_ebm.core.data import epoch_loader

__all__ = ["TemplateDataModule", "ring_mixture"]


def ring_mixture(n: int, *, modes: int = 8, radius: float = 2.0, std: float = 0.1, seed: int = 0) -> torch.Tensor:
    """(n, 2) points: a mode chosen uniformly among ``modes`` on a circle of ``radius``, plus N(0, std²)."""
    g = torch.Generator().manual_seed(seed)
    k = torch.randint(0, modes, (n,), generator=g)
    angle = 2 * math.pi * k / modes
    centres = radius * torch.stack([angle.cos(), angle.sin()], 1)
    return centres + std * torch.randn(n, 2, generator=g)


class _Indexed(Dataset):
    """Batches as the core expects them: {"x": (B, 2), "index": (B,)} (indices key persistent
    chains and example-keyed noise)."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "index": torch.tensor(i)}


class TemplateDataModule(L.LightningDataModule):
    """Train / validation / test splits of the ring mixture, each from its own seed.

    Args: n_train, n_val, n_test (examples), batch_size, std (of each mode), seed, predict_n
        (how many samples ``predict`` draws; ``predict --n N`` sets it).
    """

    def __init__(self, n_train: int = 2048, n_val: int = 256, n_test: int = 256, batch_size: int = 128,
                 std: float = 0.1, seed: int = 0, predict_n: int = 256) -> None:
        super().__init__()
        for name, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test), ("batch_size", batch_size),
                            ("predict_n", predict_n)):
            check_int(name, value, low=1)
        self.predict_n = predict_n
        check_real("std", std, low=0.0, low_open=True)
        self.save_hyperparameters()

    def _split(self, n: int, offset: int) -> _Indexed:
        return _Indexed(ring_mixture(n, std=self.hparams.std, seed=self.hparams.seed * 3 + offset))

    def setup(self, stage: str | None = None) -> None:
        h = self.hparams
        self.train_set, self.val_set, self.test_set = (self._split(h.n_train, 0), self._split(h.n_val, 1),
                                                       self._split(h.n_test, 2))

    def train_dataloader(self) -> DataLoader:
        # (seed, epoch)-keyed order that resumes exactly, in mid-epoch too (the core's epoch_loader)
        return epoch_loader(self.train_set, self.hparams.batch_size, seed=self.hparams.seed, trainer=self.trainer)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=self.hparams.batch_size)

    def predict_dataloader(self) -> DataLoader:
        """``predict_n`` placeholder rows: the model draws one sample per row."""
        return DataLoader(_Indexed(torch.zeros(self.predict_n, 2)), batch_size=self.hparams.batch_size)
