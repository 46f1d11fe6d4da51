"""Data: 2-d toys generated here with their exact densities, MNIST / Fashion-MNIST padded to 32x32
and CIFAR-10 (``paper`` config; a download) through the core's catalog and loaders, and
``synthetic`` / ``synthetic-rgb`` blob images (offline stand-ins for tests and one-step runs).

Toys (all inside the box [-BOX, BOX]², where chains start, uniform):
- ``rings``: 4 concentric rings (ebm-anatomy's ``rings``: radius N(r_k, sd²) with r_k = radius·k,
  k = 1..4, density / (2π r_k)), sd 0.15; radius 0.5 here (anatomy: 1) so they fit the box.
  Weights ∝ r_k (anatomy's weights are not read here [mine]).
- ``mixture``: 8 Gaussians (sd 0.15) evenly on a circle of radius 1.5.
- ``checkerboard``: uniform on the 8 dark squares of a 4x4 board over [-2, 2]².
Images are scaled to [-1, 1]; 28x28 digits are padded with -1 (the background) to 32x32.
Batches: ``{"x": (B, ...), "index": (B,)}``.
"""

from __future__ import annotations

import math
from typing import Literal

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from latent_ebm.core.checks import check_choice, check_int, require
from latent_ebm.core.data import epoch_loader, get_file, load_cifar10, load_idx_images

__all__ = ["BOX", "TOYS", "StanleyDataModule", "Toy", "synthetic_images"]

BOX = 2.5
TOYS = ("rings", "mixture", "checkerboard")
IMAGES = ("mnist", "fashion-mnist", "cifar10", "synthetic", "synthetic-rgb")
DatasetName = Literal["rings", "mixture", "checkerboard", "mnist", "fashion-mnist", "cifar10", "synthetic",
                      "synthetic-rgb"]


class Toy:
    """A 2-d density with exact ``sample(n, generator)`` (n, 2) and ``log_prob(x)`` (n,)."""

    def __init__(self, name: str, sd: float = 0.15) -> None:
        check_choice("toy", name, TOYS)
        self.name, self.sd = name, sd
        if name == "rings":
            self.radii = 0.5 * torch.arange(1, 5, dtype=torch.float64)
            self.weights = self.radii / self.radii.sum()
        elif name == "mixture":
            a = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
            self.means = 1.5 * torch.stack([a.cos(), a.sin()], 1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        g = generator
        if self.name == "rings":
            k = torch.multinomial(self.weights, n, replacement=True, generator=g)
            r = self.radii[k] + self.sd * torch.randn(n, generator=g, dtype=torch.float64)
            a = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
            return torch.stack([r * a.cos(), r * a.sin()], 1)
        if self.name == "mixture":
            k = torch.randint(0, 8, (n,), generator=g)
            return self.means[k] + self.sd * torch.randn(n, 2, generator=g, dtype=torch.float64)
        # checkerboard: a cell (i, j) with i + j even, uniform inside it
        cell = torch.randint(0, 8, (n,), generator=g)
        i = cell // 2
        j = 2 * (cell % 2) + (i % 2)
        u = torch.rand(n, 2, generator=g, dtype=torch.float64)
        return torch.stack([i + u[:, 0], j + u[:, 1]], 1) - 2.0

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density (float64); -inf off the checkerboard's support."""
        x = x.double()
        if self.name == "rings":
            r = x.norm(dim=1, keepdim=True)
            logn = -0.5 * ((r - self.radii) / self.sd) ** 2 - math.log(self.sd * math.sqrt(2 * math.pi))
            return torch.logsumexp(logn + self.weights.log() - torch.log(2 * math.pi * self.radii), dim=1)
        if self.name == "mixture":
            d2 = (x[:, None, :] - self.means).square().sum(-1)
            logn = -0.5 * d2 / self.sd**2 - math.log(2 * math.pi * self.sd**2)
            return torch.logsumexp(logn - math.log(8), dim=1)
        c = torch.floor(x + 2.0)
        inside = ((c >= 0) & (c <= 3)).all(1) & ((c[:, 0] + c[:, 1]) % 2 == 0)
        return torch.where(inside, torch.full_like(x[:, 0], -math.log(8.0)), torch.full_like(x[:, 0], -math.inf))


def synthetic_images(n: int, channels: int = 1, seed: int = 0) -> Tensor:
    """Offline stand-in images (n, channels, 32, 32) in [-1, 1]: one Gaussian blob each, random
    centre, width and colour (for tests and one-step runs of image configs; not a benchmark)."""
    g = torch.Generator().manual_seed(seed)
    c = torch.linspace(-1, 1, 32)
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    centre = torch.rand(n, 2, generator=g) * 1.2 - 0.6
    width = 0.15 + 0.25 * torch.rand(n, generator=g)
    colour = torch.rand(n, channels, generator=g)
    d2 = (xx - centre[:, 0, None, None]) ** 2 + (yy - centre[:, 1, None, None]) ** 2
    blob = torch.exp(-d2 / (2 * width[:, None, None] ** 2))  # (n, 32, 32)
    return (2 * blob[:, None] * colour[:, :, None, None] - 1).clamp(-1, 1)


class _Indexed(Dataset):
    def __init__(self, x: Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"x": self.x[i], "index": torch.tensor(i)}


class StanleyDataModule(L.LightningDataModule):
    """Train / validation / test splits of a toy or an image set.

    Args: dataset (a toy of :data:`TOYS`, ``mnist``, ``fashion-mnist``, ``cifar10``), batch_size,
        n_train (toys: examples drawn; images: the first n_train of the training file, None = all),
        n_val (toys: drawn; images: the last n_val of the training file), n_test (toys: drawn;
        images: the first n_test of the test file), seed (toys' draws and the shuffle), predict_n
        (samples ``predict`` draws; ``predict --n N``), num_workers.
    """

    def __init__(self, dataset: DatasetName = "rings", batch_size: int = 100, n_train: int | None = 10000,
                 n_val: int = 1000, n_test: int = 1000, seed: int = 0, predict_n: int = 100,
                 num_workers: int = 0) -> None:
        super().__init__()
        check_choice("dataset", dataset, TOYS + IMAGES)
        check_int("batch_size", batch_size, low=1)
        check_int("n_train", n_train, low=1, allow_none=True)
        check_int("n_val", n_val, low=1)
        check_int("n_test", n_test, low=1)
        check_int("predict_n", predict_n, low=1)
        check_int("num_workers", num_workers, low=0)
        self.predict_n = predict_n
        self.save_hyperparameters()
        self.train_set = self.val_set = self.test_set = None

    @property
    def data_shape(self) -> tuple[int, ...]:
        d = self.hparams.dataset
        return (2,) if d in TOYS else (3, 32, 32) if d in ("cifar10", "synthetic-rgb") else (1, 32, 32)

    def prepare_data(self) -> None:
        d = self.hparams.dataset
        if d in ("mnist", "fashion-mnist"):
            for prefix in ("train", "t10k"):
                get_file(d, f"{prefix}-images-idx3-ubyte.gz")

    def _images(self, split: str) -> Tensor:
        d = self.hparams.dataset
        if d.startswith("synthetic"):
            h = self.hparams
            n = (h.n_train or 1000) + h.n_val if split == "train" else h.n_test
            return synthetic_images(n, self.data_shape[0], seed=h.seed * 3 + (split == "test"))
        return (load_cifar10(split) if d == "cifar10" else load_idx_images(d, split))[0]

    def setup(self, stage: str | None = None) -> None:
        h = self.hparams
        if h.dataset in TOYS:
            toy = Toy(h.dataset)
            draw = lambda n, k: toy.sample(n, torch.Generator().manual_seed(h.seed * 3 + k)).float()  # noqa: E731
            n_train = h.n_train or 10000
            self.train_set, self.val_set, self.test_set = (_Indexed(draw(n_train, 0)), _Indexed(draw(h.n_val, 1)),
                                                           _Indexed(draw(h.n_test, 2)))
            return
        if stage in (None, "fit", "validate"):
            x = self._images("train")
            require("n_val", h.n_val, h.n_val < len(x), f"it must be below the {len(x)} training images")
            train = x[: len(x) - h.n_val]
            self.train_set = _Indexed(train if h.n_train is None else train[: h.n_train])
            self.val_set = _Indexed(x[len(x) - h.n_val:])
        if stage in (None, "test"):
            self.test_set = _Indexed(self._images("test")[: h.n_test])

    def _loader(self, ds: Dataset | None, shuffle: bool = False) -> DataLoader:
        h = self.hparams
        if shuffle:  # (seed, epoch)-keyed order that resumes exactly, in mid-epoch too (the core's epoch_loader)
            return epoch_loader(ds, h.batch_size, seed=h.seed, trainer=self.trainer, num_workers=h.num_workers)
        return DataLoader(ds, batch_size=h.batch_size, num_workers=h.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)

    def predict_dataloader(self) -> DataLoader:
        """``predict_n`` placeholder rows: the model draws one sample per row."""
        return self._loader(_Indexed(torch.zeros(self.predict_n, *self.data_shape)))
