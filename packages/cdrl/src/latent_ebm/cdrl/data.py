"""Data for CDRL: 2-d toy densities (generated here), MNIST / Fashion-MNIST padded to 32x32
(from the core registry), synthetic images as the offline image fallback (grey, and RGB with
CIFAR-10's shape), and the paper's CIFAR-10 path.

Splits: train, validation and test. MNIST, Fashion-MNIST and CIFAR-10 take validation and test
from their test files, disjoint (validation: ``n_val`` images of a permutation, test: the next
``n_test``); the generated sets draw each split from its own seed.

Images are scaled to [-1, 1] (official: ``x * 2 - 1``); 28x28 digits are padded with -1 to
32x32 so the networks see the paper's resolution. Batches are dicts ``{"x", "y", "index"}``
(the suite's one batch format): y the class label (0 for the toys), index the example's
position in its split (example-keyed noise and flips read it).
"""

from __future__ import annotations

import math
from typing import Literal

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, default_collate

from latent_ebm.core.checks import check_choice, check_int, require
from latent_ebm.core.data import IDX_DATASETS, EpochShuffle, get_file, load_cifar10, load_idx_images
from latent_ebm.core.rng import example_seed, register_stream

__all__ = ["CDRLDataModule", "Examples", "ToyDensity", "load_idx_images", "make_toy", "synthetic_images",
           "synthetic_rgb_images"]

# Flips of epoch e read stream FLIP_STREAM + e (id kept from before the core's registry).
FLIP_STREAM = register_stream("cdrl.flip", 0xF11B)

DatasetName = Literal["mixture", "rings", "checkerboard", "mnist", "fashion-mnist", "synthetic", "synthetic-rgb",
                      "cifar10"]
TOY = ("mixture", "rings", "checkerboard")
IDX = set(IDX_DATASETS)
GENERATED = (*TOY, "synthetic", "synthetic-rgb")
SPLIT_SEED = {"train": 0, "val": 1, "test": 2}  # a generated split draws from seed + this


class ToyDensity:
    """A 2-d density with exact samples and log-density: the toy quality figure's known answer.

    ``mixture``: Gaussians on a circle (radius 1.5, std 0.15) with weights ``weights``;
    ``rings``: two rings (radii 0.6, 1.4; radial std 0.06); ``checkerboard``: uniform on the
    black squares of a 4x4 board over [-1.6, 1.6]^2.
    """

    def __init__(self, name: str, weights: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4)) -> None:
        check_choice("name", name, TOY)
        w = torch.tensor(weights, dtype=torch.float64)
        require("weights", weights, w.numel() > 0 and bool((w > 0).all()), "they must all be > 0")
        self.name = name
        self.weights = w / w.sum()
        k = len(weights)
        ang = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
        self.means = 1.5 * torch.stack([ang.cos(), ang.sin()], 1)  # (k, 2)
        self.std = 0.15

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(n, 2) float32 exact samples."""
        g = generator
        if self.name == "mixture":
            idx = torch.multinomial(self.weights, n, replacement=True, generator=g)
            x = self.means[idx] + self.std * torch.randn(n, 2, generator=g, dtype=torch.float64)
        elif self.name == "rings":
            r = torch.where(torch.rand(n, generator=g) < 0.5, 0.6, 1.4).double()
            r = r + 0.06 * torch.randn(n, generator=g, dtype=torch.float64)
            a = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
            x = torch.stack([r * a.cos(), r * a.sin()], 1)
        else:
            cell = torch.randint(0, 8, (n,), generator=g)
            row = cell // 2
            col = 2 * (cell % 2) + (row % 2)
            u = torch.rand(n, 2, generator=g, dtype=torch.float64)
            x = (torch.stack([col, row], 1).double() + u) * 0.8 - 1.6
        return x.float()

    def assign(self, x: Tensor) -> Tensor:
        """Index of the nearest mixture component for each point (mixture only)."""
        return torch.cdist(x.double(), self.means).argmin(1)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density (mixture); (n,) float64."""
        require("name", self.name, self.name == "mixture", "log_prob is exact only for 'mixture'")
        d2 = torch.cdist(x.double(), self.means).square()  # (n, k)
        comp = -d2 / (2 * self.std**2) - math.log(2 * math.pi * self.std**2)
        return torch.logsumexp(comp + self.weights.log(), dim=1)


def make_toy(name: str, n: int, seed: int = 0) -> Tensor:
    return ToyDensity(name).sample(n, torch.Generator().manual_seed(seed))


def synthetic_images(n: int, seed: int = 0, num_classes: int = 4) -> tuple[Tensor, Tensor]:
    """Offline fallback: (n, 1, 32, 32) bars/blobs in [-1, 1], labelled by shape (0..3)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    labels = torch.randint(0, num_classes, (n,), generator=g)
    c = 8 + 16 * torch.rand(n, 2, generator=g)
    cx, cy = c[:, 0, None, None], c[:, 1, None, None]
    shapes = torch.stack([
        ((xx - cx).abs() < 2) & ((yy - cy).abs() < 8),          # vertical bar
        ((yy - cy).abs() < 2) & ((xx - cx).abs() < 8),          # horizontal bar
        (xx - cx).square() + (yy - cy).square() < 36,           # disc
        ((xx - cx).abs() < 6) & ((yy - cy).abs() < 6),          # square
    ], 1)  # (n, 4, 32, 32)
    img = shapes[torch.arange(n), labels % 4].float() * 2 - 1
    return img[:, None], labels


def synthetic_rgb_images(n: int, seed: int = 0, num_classes: int = 4) -> tuple[Tensor, Tensor]:
    """Offline stand-in with CIFAR-10's shape: :func:`synthetic_images`' shapes, each in a random
    colour on black, (n, 3, 32, 32) in [-1, 1], labelled by shape (0..3)."""
    grey, labels = synthetic_images(n, seed, num_classes)
    colour = torch.rand(n, 3, 1, 1, generator=torch.Generator().manual_seed(seed + 0x5EED)) * 2 - 1
    return torch.where(grey > 0, colour, torch.tensor(-1.0)), labels


class Examples(Dataset):
    """Examples as the suite's batch dicts: item i is ``{"x": x[i], "y": y[i], "index": i}``."""

    def __init__(self, x: Tensor, y: Tensor) -> None:
        require("y", f"{len(y)} rows", len(y) == len(x), f"it must have as many rows as x ({len(x)})")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"x": self.x[i], "y": self.y[i], "index": torch.tensor(i)}


class CDRLDataModule(L.LightningDataModule):
    """Batches ``{"x", "y", "index"}``: y the class label (0 for the toy sets), index the
    example's position in its split. The training order is a permutation drawn from
    (seed, epoch) (core ``EpochShuffle``), so a run resumed at an epoch boundary sees the same
    batches.

    Args:
        dataset: a 2-d toy density, ``mnist``/``fashion-mnist`` (core registry, padded to 32x32),
            ``synthetic`` (offline images) or ``cifar10`` (paper scale; see ``paper.yaml``).
        n_train: cap on training examples (None: all; toy: this many fresh samples, default 20000).
        n_val: validation examples (the reference set for MMD / FID).
        n_test: test examples (None: as many as ``n_val``). MNIST, Fashion-MNIST and CIFAR-10 take
            validation and test from their test files, disjoint; the generated sets (toys,
            ``synthetic``, ``synthetic-rgb``) draw each split from its own seed.
        predict_n: how many samples ``predict`` draws (``predict --n N`` sets it).
        random_flip: horizontal flips of training images (official CIFAR-10 augmentation), each
            decided by (seed, epoch, example index), so a resumed run flips exactly as an
            uninterrupted one.
    """

    def __init__(self, dataset: DatasetName = "mixture", batch_size: int = 128, n_train: int | None = None,
                 n_val: int = 512, n_test: int | None = None, num_workers: int = 0, seed: int = 0,
                 random_flip: bool = False, predict_n: int = 64) -> None:
        super().__init__()
        check_choice("dataset", dataset, DatasetName.__args__)
        check_int("batch_size", batch_size, low=1)
        check_int("n_train", n_train, low=1, allow_none=True)
        check_int("n_val", n_val, low=2)
        check_int("n_test", n_test, low=2, allow_none=True)
        check_int("num_workers", num_workers, low=0)
        check_int("seed", seed)
        check_choice("random_flip", random_flip, (True, False))
        check_int("predict_n", predict_n, low=1)
        self.save_hyperparameters()
        self.predict_n = predict_n
        self.train_set: Examples | None = None
        self.val_set: Examples | None = None
        self.test_set: Examples | None = None

    @property
    def data_shape(self) -> tuple[int, ...]:
        d = self.hparams.dataset
        return (2,) if d in TOY else (3, 32, 32) if d in ("cifar10", "synthetic-rgb") else (1, 32, 32)

    def prepare_data(self) -> None:
        if self.hparams.dataset in IDX:
            for split in ("train", "t10k"):
                get_file(self.hparams.dataset, f"{split}-images-idx3-ubyte.gz")
                get_file(self.hparams.dataset, f"{split}-labels-idx1-ubyte.gz")
        elif self.hparams.dataset == "cifar10":
            get_file("cifar10", "cifar-10-python.tar.gz")

    def _load(self, split: Literal["train", "val", "test"]) -> tuple[Tensor, Tensor]:
        h = self.hparams
        n_test = h.n_test or h.n_val
        if h.dataset in GENERATED:  # each split its own draw
            seed = h.seed + SPLIT_SEED[split]
            n = {"train": h.n_train or 20000, "val": h.n_val, "test": n_test}[split]
            if h.dataset in TOY:
                return make_toy(h.dataset, n, seed), torch.zeros(n, dtype=torch.long)
            return (synthetic_images if h.dataset == "synthetic" else synthetic_rgb_images)(n, seed)
        if h.dataset == "cifar10":
            x, y = load_cifar10("train" if split == "train" else "test")
        else:
            x, y = load_idx_images(h.dataset, "train" if split == "train" else "test")
        if split == "train":
            if h.n_train is not None and h.n_train < len(x):
                idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(h.seed))[:h.n_train]
                x, y = x[idx], y[idx]
            return x, y
        # validation and test: disjoint parts of one permutation of the test file
        if h.n_val >= len(x):
            require("n_val", h.n_val, split == "val",
                    f"the test split needs n_val < the {len(x)} images of {h.dataset}'s test file")
            return x, y
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(h.seed + 1))
        idx = perm[:h.n_val] if split == "val" else perm[h.n_val:h.n_val + n_test]
        return x[idx], y[idx]

    def setup(self, stage: str | None = None) -> None:
        """Load the splits ``stage`` uses: fit -> train and validation, validate -> validation,
        test -> test, predict -> none (``predict`` samples ``predict_n`` from the model)."""
        splits = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",),
                  "predict": ()}.get(stage or "", ("train", "val", "test"))
        for split in splits:
            if getattr(self, f"{split}_set") is None:
                setattr(self, f"{split}_set", Examples(*self._load(split)))

    def train_dataloader(self) -> DataLoader:
        h = self.hparams
        # as the core's epoch_loader (exact mid-epoch resume, no global-RNG draw per epoch), with the
        # flips' collate reading the epoch from the sampler
        sampler = EpochShuffle(len(self.train_set), h.seed).resume_from(self.trainer, h.batch_size)
        collate = _EpochFlip(sampler, h.seed) if h.random_flip else None
        return DataLoader(self.train_set, batch_size=h.batch_size, sampler=sampler, drop_last=True,
                          num_workers=h.num_workers, collate_fn=collate, generator=torch.Generator().manual_seed(h.seed))

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=max(self.hparams.batch_size, 256))

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=max(self.hparams.batch_size, 256))

    def predict_dataloader(self) -> DataLoader:
        """``predict_n`` placeholder examples (zeros, index i): the model draws one sample per
        example (a class-conditional model: of class i % num_classes)."""
        n = self.predict_n
        x, y = torch.zeros(n, *self.data_shape), torch.zeros(n, dtype=torch.long)
        return DataLoader(Examples(x, y), batch_size=max(self.hparams.batch_size, 256))


class _EpochFlip:
    """Collate batch dicts, flipping image i horizontally where bit 0 of the seed keyed by
    (seed, stream ``FLIP_STREAM`` + epoch, dataset index of i) is set: independent of the global
    RNG and of the batch split. Reads the epoch from the ``EpochShuffle`` it was built with (set
    by Lightning)."""

    def __init__(self, sampler: EpochShuffle, seed: int) -> None:
        self.sampler, self.seed = sampler, seed

    def __call__(self, items: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        batch = default_collate(items)
        x, idx = batch["x"], batch["index"]
        stream = FLIP_STREAM + self.sampler.epoch
        flip = torch.tensor([example_seed(self.seed, stream, i) & 1 for i in idx.tolist()], dtype=torch.bool)
        x[flip] = x[flip].flip(-1)
        return batch
