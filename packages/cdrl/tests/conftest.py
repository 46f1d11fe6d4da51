"""Package fixtures. The core's pytest plugin sets the data directory, one thread and the seed."""

import pytest

import latent_ebm.cdrl.data as data
import latent_ebm.cdrl.metrics as metrics

QUICK_FID_IMAGES = 256  # the FID classifier of a test trains on this many images: seconds, not minutes
_FIRST_IMAGES: dict = {}


@pytest.fixture(autouse=True)
def _artifact_dir(tmp_path_factory, monkeypatch):
    """FID classifiers are cached in a per-session folder, never in the user's cache (nor read from it)."""
    monkeypatch.setenv("LATENT_EBM_ARTIFACT_DIR", str(tmp_path_factory.getbasetemp() / "artifacts"))


@pytest.fixture
def quick_fid_classifier(tmp_path, monkeypatch):
    """The FID feature classifier trains through the package's own path (``metrics.feature_extractor``)
    on the first ``QUICK_FID_IMAGES`` images of the training file, cached under this test's
    ``tmp_path / "artifacts"``: the first validation trains it in seconds where a fresh install's
    takes minutes (all 60k). The data module's images are capped the same way."""
    monkeypatch.setenv("LATENT_EBM_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    full = data.load_idx_images

    def first_images(dataset, split="train"):
        if (dataset, split) not in _FIRST_IMAGES:  # decompressing a whole file takes seconds: once a session
            _FIRST_IMAGES[dataset, split] = tuple(t[:QUICK_FID_IMAGES].clone() for t in full(dataset, split))
        return _FIRST_IMAGES[dataset, split]

    monkeypatch.setattr(data, "load_idx_images", first_images)
    metrics.feature_extractor.cache_clear()
    yield tmp_path / "artifacts"
    metrics.feature_extractor.cache_clear()
