"""The suite's pytest plugin (entry point ``pytest11``, loaded wherever latent-ebm-core is installed).

- The data directory: ``LATENT_EBM_DATA_DIR`` if set, else a ``shared/data`` folder (with its
  ``MANIFEST.md``) beside the checkout, as CI lays it out; tests needing a dataset use
  :func:`requires_dataset` and skip with the reason where it is absent.
- Determinism: one torch thread (set ``LATENT_EBM_TEST_THREADS`` for more) and
  ``torch.manual_seed(0)`` before every test.
- Markers ``slow``, ``ddp`` and ``gpu``; a ``tiny_trainer`` fixture (a quiet CPU Trainer factory
  rooted in the test's ``tmp_path``).

The module contract itself is :class:`latent_ebm.core.testing.contract.ModuleContract`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

__all__ = ["requires_dataset"]

_MARKERS = (
    "slow: longer tests (still CPU-sized)",
    "ddp: spawns several processes on gloo",
    "gpu: needs a CUDA device",
)


def _shared_data_beside(root: Path) -> Path | None:
    for folder in (root, *root.parents):
        cand = folder.parent / "shared" / "data"
        if (cand / "MANIFEST.md").is_file():
            return cand
    return None


# Warnings every CLI test would print, none of them about this project's code: the CLI is run
# in-process with ``args`` (so Lightning sees pytest's argv), and jsonargparse's deprecations
# inside Lightning's own CLI module.
_QUIET = (
    "ignore:LightningCLI's args parameter is intended:UserWarning",
    "ignore::DeprecationWarning:lightning.pytorch.cli",
    "ignore:.*isinstance\\(treespec, LeafSpec\\).*",
)


def pytest_configure(config: pytest.Config) -> None:
    for line in _MARKERS:
        config.addinivalue_line("markers", line)
    for line in _QUIET:
        config.addinivalue_line("filterwarnings", line)
    if not os.environ.get("LATENT_EBM_DATA_DIR"):
        found = _shared_data_beside(Path(str(config.rootpath)).resolve())
        if found is not None:
            os.environ["LATENT_EBM_DATA_DIR"] = str(found)
    import torch

    torch.set_num_threads(int(os.environ.get("LATENT_EBM_TEST_THREADS", "1")))


@pytest.fixture(autouse=True)
def _latent_ebm_seed() -> None:
    import torch

    torch.manual_seed(0)


@pytest.fixture
def tiny_trainer(tmp_path: Path) -> Callable[..., Any]:
    """``tiny_trainer(**overrides)``: :func:`latent_ebm.core.testing.contract.tiny_trainer` rooted
    in the test's ``tmp_path``."""
    from .contract import tiny_trainer as make

    return lambda **kw: make(kw.pop("root", tmp_path), **kw)


def requires_dataset(dataset: str, filename: str | None = None) -> pytest.MarkDecorator:
    """A ``skipif`` mark: skip unless ``dataset`` (or that file of it) is in the data cache."""
    from latent_ebm.core.data import data_dir, is_available

    present = is_available(dataset, filename)
    what = f"{dataset}/{filename}" if filename else dataset
    return pytest.mark.skipif(not present, reason=f"{what} is not in the data cache {data_dir()} "
                              "(set LATENT_EBM_DATA_DIR)")
