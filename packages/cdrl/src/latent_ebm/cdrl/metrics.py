"""Quality figures: MMD to held-out data (toy and images); FID in the features of a small
classifier trained once on the dataset's training split (core ``FeatureFID`` +
``train_feature_classifier``), cached under the data dir, named "fid_<dataset>-cnn"; and, for
paper-scale runs (CIFAR-10), the standard Inception-v3 FID (core ``FeatureFID("inception")``:
torchmetrics' pool3 features from torch-fidelity's ``pt_inception-2015-12-05`` weights), named
"fid_inception". The two families are never mixed in one table.
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

__all__ = ["feature_extractor", "fid", "inception_fid", "sample_quality"]


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


def inception_fid(real: Tensor, fake: Tensor) -> float:
    """Inception-v3 FID between image sets (N, C, H, W) in [-1, 1] (C = 1 is repeated to RGB).

    Images go in as floats in [0, 1] (torchmetrics ``normalize=True`` turns them into the uint8
    the torch-fidelity extractor expects, and it resizes to 299). Needs ``torch-fidelity``
    (``pip install latent-ebm-cdrl[fid]``) and its weights; the error says so otherwise.
    """
    metric = FeatureFID("inception")

    def prep(x: Tensor) -> Tensor:
        x = ((x.float().clamp(-1, 1) + 1) / 2).to(metric.device)
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    for chunk in real.split(500):
        metric.update(prep(chunk), real=True)
    for chunk in fake.split(500):
        metric.update(prep(chunk), real=False)
    return float(metric.compute())


def sample_quality(real: Tensor, fake: Tensor, fid_dataset: str | None = None, *,
                   inception: bool = False) -> dict[str, float]:
    """{"mmd": unbiased Gaussian-kernel MMD^2 (median bandwidth), plus for images either
    "fid_<dataset>-cnn" (offline classifier features) or "fid_inception" (``inception=True``)}."""
    if fid_dataset is not None and inception:
        raise ValueError("fid_dataset and inception=True are exclusive: classifier and Inception FIDs "
                         "are different features and are never reported together")
    out = {"mmd": float(gaussian_mmd(real.flatten(1), fake.flatten(1)))}
    if fid_dataset is not None and real.dim() == 4:
        out[f"fid_{fid_dataset}-cnn"] = fid(real, fake, fid_dataset)
    if inception and real.dim() == 4:
        out["fid_inception"] = inception_fid(real, fake)
    return out

