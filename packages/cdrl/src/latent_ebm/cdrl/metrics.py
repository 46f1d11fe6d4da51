"""Quality figures: MMD to held-out data (toy and images), and FID in the features of a small
classifier trained once on the dataset's training split (core ``FeatureFID`` +
``train_feature_classifier``), cached under the data dir. Those FIDs are named after their
features ("fid_<dataset>-cnn") and never compared with Inception FIDs.
"""

from __future__ import annotations

from functools import lru_cache

from torch import Tensor

from latent_ebm.core.data import artifact_dir
from latent_ebm.core.metrics import (
    FeatureClassifier,
    FeatureFID,
    gaussian_mmd,
    train_feature_classifier,
)

__all__ = ["feature_extractor", "fid", "sample_quality"]


@lru_cache(maxsize=4)
def feature_extractor(dataset: str) -> tuple[FeatureClassifier, float]:
    """The offline FID classifier for ``dataset`` (32x32 padded), trained once and cached at
    ``artifact_dir('cdrl', <dataset>)/fid-classifier-32.pt`` (apart from the data cache, which
    may be a shared read-only copy); returns (model, held-out acc)."""
    from .data import load_idx_images

    x, y = load_idx_images(dataset, "train")
    path = artifact_dir("cdrl", dataset) / "fid-classifier-32.pt"
    return train_feature_classifier(x, y, num_classes=10, epochs=1, cache_path=path)


def fid(real: Tensor, fake: Tensor, dataset: str) -> float:
    """FID between image sets (N, 1, 32, 32) in [-1, 1], in ``dataset``'s classifier features."""
    model, _ = feature_extractor(dataset)
    metric = FeatureFID(model, name=f"{dataset}-cnn")
    # With an injected extractor torchmetrics passes images through unchanged, so the
    # classifier sees [-1, 1] images, the range it was trained on.
    metric.update(real.float(), real=True)
    metric.update(fake.float().clamp(-1, 1), real=False)
    return float(metric.compute())


def sample_quality(real: Tensor, fake: Tensor, fid_dataset: str | None = None) -> dict[str, float]:
    """{"mmd": unbiased Gaussian-kernel MMD^2 (median bandwidth), ["fid_<dataset>-cnn": FID]}."""
    out = {"mmd": float(gaussian_mmd(real.flatten(1), fake.flatten(1)))}
    if fid_dataset is not None and real.dim() == 4:
        out[f"fid_{fid_dataset}-cnn"] = fid(real, fake, fid_dataset)
    return out

