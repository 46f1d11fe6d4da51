"""Package fixtures. The core's pytest plugin sets the data directory, one thread and the seed."""

import pytest

import latent_ebm.cdrl.data as data
import latent_ebm.cdrl.metrics as metrics

QUICK_FID_IMAGES = 512  # the FID classifier of a test trains on this many images: seconds, not minutes


@pytest.fixture(autouse=True)
def _artifact_dir(tmp_path_factory, monkeypatch):
    """FID classifiers are cached in a per-session folder, never in the user's cache (nor read from it)."""
    monkeypatch.setenv("LATENT_EBM_ARTIFACT_DIR", str(tmp_path_factory.getbasetemp() / "artifacts"))


@pytest.fixture
def quick_fid_classifier(tmp_path, monkeypatch):
    """The FID feature classifier trains, through the package's own path (``metrics.feature_extractor``
    inside validation), on the first ``QUICK_FID_IMAGES`` training images, cached under this test's
    ``tmp_path / "artifacts"``: the first validation trains it (seconds) as a fresh install's does
    (minutes, on all 60k). Data loaded by the data module is capped the same way."""
    monkeypatch.setenv("LATENT_EBM_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    full = data.load_idx_images

    def first_images(dataset, split="train"):
        x, y = full(dataset, split)
        return x[:QUICK_FID_IMAGES], y[:QUICK_FID_IMAGES]

    monkeypatch.setattr(data, "load_idx_images", first_images)
    metrics.feature_extractor.cache_clear()
    yield tmp_path / "artifacts"
    metrics.feature_extractor.cache_clear()
