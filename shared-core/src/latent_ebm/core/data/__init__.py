"""Dataset registry and verified local cache.

``get_file("mnist", "train-images-idx3-ubyte.gz")`` returns the path of a copy in
``$LATENT_EBM_DATA_DIR/<dataset>/<file>`` (default ``~/.cache/latent-ebm``), downloading and
sha256-checking it first when it is missing. ``python -m latent_ebm.core.data list|path|verify``
inspects the cache. See ``docs/core-api.md``.
"""

from . import _catalog  # noqa: F401  (registers the built-in datasets)
from ._cache import (
    FileStatus,
    artifact_dir,
    cache_path,
    data_dir,
    get_file,
    is_available,
    verify_dataset,
)
from ._sampler import EpochShuffle, batches_done_in_epoch, epoch_loader
from ._spec import DatasetSpec, RemoteFile, archive_member, get_spec, register, registry
from ._verify import ChecksumError, DatasetUnavailableError
from .images import IDX_DATASETS, load_cifar10, load_idx_images

__all__ = [
    "ChecksumError",
    "DatasetSpec",
    "DatasetUnavailableError",
    "EpochShuffle",
    "FileStatus",
    "IDX_DATASETS",
    "RemoteFile",
    "archive_member",
    "artifact_dir",
    "batches_done_in_epoch",
    "cache_path",
    "data_dir",
    "epoch_loader",
    "get_file",
    "get_spec",
    "is_available",
    "load_cifar10",
    "load_idx_images",
    "register",
    "registry",
    "verify_dataset",
]
