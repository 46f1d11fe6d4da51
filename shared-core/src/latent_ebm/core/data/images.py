"""Image datasets of the catalog as tensors in [-1, 1]: the MNIST-format (IDX) sets, padded to
32x32 as the image EBM papers use them, and CIFAR-10 from its python tarball."""

from __future__ import annotations

import gzip
import pickle
import tarfile
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from ..checks import check_choice, check_int
from ._cache import get_file

__all__ = ["IDX_DATASETS", "load_cifar10", "load_idx_images"]

IDX_DATASETS = ("mnist", "fashion-mnist")


def load_idx_images(
    dataset: str, split: Literal["train", "test"] = "train", *, size: int = 32
) -> tuple[Tensor, Tensor]:
    """Images (N, 1, size, size) in [-1, 1], the 28x28 digits centred and padded with -1, and
    labels (N,) int64, from the catalog's IDX files (``test``: the t10k files)."""
    check_choice("dataset", dataset, IDX_DATASETS)
    check_choice("split", split, ("train", "test"))
    check_int("size", size, low=28)
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(get_file(dataset, f"{prefix}-images-idx3-ubyte.gz"), "rb") as fh:
        raw = fh.read()
    n, h, w = (int.from_bytes(raw[i : i + 4], "big") for i in (4, 8, 12))
    img = torch.from_numpy(np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, h, w).copy())
    with gzip.open(get_file(dataset, f"{prefix}-labels-idx1-ubyte.gz"), "rb") as fh:
        labels = torch.from_numpy(np.frombuffer(fh.read(), np.uint8, offset=8).astype(np.int64))
    x = img.float() / 127.5 - 1.0
    top, left = (size - h) // 2, (size - w) // 2
    x = torch.nn.functional.pad(x, (left, size - w - left, top, size - h - top), value=-1.0)
    return x, labels


def load_cifar10(split: Literal["train", "test"] = "train") -> tuple[Tensor, Tensor]:
    """CIFAR-10 images (N, 3, 32, 32) in [-1, 1] and labels (N,) from the verified tarball
    (downloaded into the data cache on first use, 163 MB)."""
    check_choice("split", split, ("train", "test"))
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    xs, ys = [], []
    with tarfile.open(get_file("cifar10", "cifar-10-python.tar.gz"), "r:gz") as tar:
        for name in names:
            fh = tar.extractfile(f"cifar-10-batches-py/{name}")
            batch = pickle.load(fh, encoding="bytes")  # noqa: S301  (checksummed archive)
            xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch[b"labels"], dtype=np.int64))
    x = torch.from_numpy(np.concatenate(xs)).float() / 127.5 - 1.0
    return x, torch.from_numpy(np.concatenate(ys))
