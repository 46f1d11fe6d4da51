"""Translation metrics on rendered domains (no pretrained Inception / AlexNet offline):

- ``target_accuracy``: a domain classifier (trained on real images) gives the target domain;
- ``content_accuracy``: a digit / shape classifier (trained on real images of all domains) still
  gives the source's label;
- ``ref_psnr``: PSNR to the exact re-rendering of the source with the reference's style;
- ``diversity``: mean pairwise L1 among translations of one input with several styles (an LPIPS
  stand-in);
- ``frechet``: Fréchet distance in the domain classifier's features between translations into
  domain k and real images of k (the core's ``FeatureFID``), averaged over k; named
  ``fd_<name>-cnn``, never to be compared with Inception FIDs.

The classifiers are the core's ``FeatureClassifier``, trained once and cached under the core's
``artifact_dir("coop-i2i")``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from latent_ebm.core.data import artifact_dir
from latent_ebm.core.metrics import FeatureClassifier, FeatureFID, train_feature_classifier

__all__ = ["classifier", "diversity", "frechet", "psnr"]


def classifier(images: Tensor, labels: Tensor, name: str, *, epochs: int = 3, seed: int = 0
               ) -> tuple[FeatureClassifier, float]:
    """A cached ``FeatureClassifier`` of ``images`` -> ``labels`` and its held-out accuracy."""
    path = artifact_dir("coop-i2i") / f"{name}-cnn-e{epochs}-s{seed}-n{len(images)}.pt"
    clf, acc = train_feature_classifier(images, labels, num_classes=int(labels.max()) + 1, epochs=epochs,
                                        seed=seed, cache_path=path)
    return clf.eval(), acc


@torch.no_grad()
def predict(clf: FeatureClassifier, x: Tensor, batch: int = 256) -> Tensor:
    """Class predictions (N,) of images (N, C, H, W) in [-1, 1] (NaN rows as zeros)."""
    x = x.nan_to_num(0.0).clamp(-1, 1)
    return torch.cat([clf.logits(c).argmax(1) for c in x.split(batch)])


def psnr(a: Tensor, b: Tensor) -> Tensor:
    """Per-image PSNR (dB) of ``a`` (clipped to [-1, 1]) against ``b``, peak-to-peak 2."""
    mse = (a.nan_to_num(0.0).clamp(-1, 1) - b).flatten(1).square().mean(1).clamp_min(1e-10)
    return 10 * torch.log10(4.0 / mse)


def diversity(outs: Tensor) -> float:
    """Mean pairwise L1 (per pixel) among (N, M, C, H, W) translations: M styles per input."""
    n, m = outs.shape[:2]
    flat = outs.nan_to_num(0.0).clamp(-1, 1).flatten(2)
    d = (flat[:, :, None] - flat[:, None]).abs().mean(-1)  # (N, M, M)
    return float(d.sum() / (n * m * (m - 1)))


def frechet(clf: FeatureClassifier, fake: Tensor, fake_domain: Tensor, real: Tensor, real_domain: Tensor,
            name: str) -> float:
    """Mean over domains k of the Fréchet distance between the classifier's features of ``fake``
    translated into k and ``real`` images of k (domains with < 2 images of either are skipped)."""
    out = []
    for k in real_domain.unique().tolist():
        f, r = fake[fake_domain == k], real[real_domain == k]
        if len(f) < 2 or len(r) < 2:
            continue
        metric = FeatureFID(clf, input_shape=tuple(real.shape[1:]), name=f"{name}-cnn")
        metric.update(r.float(), real=True)
        metric.update(f.float().nan_to_num(0.0).clamp(-1, 1), real=False)
        out.append(float(metric.compute()))
    return sum(out) / len(out)
