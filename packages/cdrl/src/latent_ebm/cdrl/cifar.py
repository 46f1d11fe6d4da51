"""CIFAR-10 for the paper-scale config: a registry entry (URL and sha256 from public sources)
and a loader. Nothing is downloaded unless a run asks for ``dataset: cifar10``.

sha256 of ``cifar-10-python.tar.gz``: 6d958be0...c001ce, the value Keras' ``cifar10.load_data``
pins (its md5 c58f30108f718f92721af3b95e74349a is torchvision's). ImageNet 32x32 (the paper's
second dataset) is only served after an image-net.org login, so it has no registry entry here:
place its npz batches yourself and add a ``DatasetSpec`` with their checksums.
"""

from __future__ import annotations

import pickle
import tarfile
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from latent_ebm.core.data import DatasetSpec, RemoteFile, get_file, register, registry

__all__ = ["CIFAR10", "load_cifar10"]

CIFAR10 = DatasetSpec(
    "cifar10",
    (RemoteFile("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),),
    citation="Krizhevsky, Learning Multiple Layers of Features from Tiny Images, 2009.",
    description="CIFAR-10, python pickle batches in a gzip tarball (163 MB).",
)
if "cifar10" not in registry():  # TODO(core): move into the core catalog so every package shares it
    register(CIFAR10)


def load_cifar10(split: Literal["train", "val", "test"] = "train") -> tuple[Tensor, Tensor]:
    """Images (N, 3, 32, 32) in [-1, 1] and labels (N,) from the verified tarball."""
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
