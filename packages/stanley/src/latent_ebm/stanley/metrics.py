"""Quality figures.

- Toys: KL(true || model) on a grid (both densities normalised on the grid: the model's is
  exp(f) / sum exp(f), the true one the exact density of :class:`~latent_ebm.stanley.data.Toy`),
  and the Gaussian-kernel MMD² of samples to exact samples (core ``gaussian_mmd``).
- Images: FID in the features of a small classifier trained once on the dataset's training split
  (core ``FeatureFID`` + ``train_feature_classifier``), named ``fid_<dataset>-cnn``; never mixed
  with Inception FIDs (not computed by this package).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import torch
from torch import Tensor

from latent_ebm.core.checks import check_real
from latent_ebm.core.data import artifact_dir, load_idx_images
from latent_ebm.core.metrics import (
    FeatureClassifier,
    FeatureFID,
    gaussian_mmd,
    train_feature_classifier,
)

from .data import BOX, Toy

__all__ = ["feature_extractor", "fid", "grid", "mmd", "toy_kl"]


def grid(n: int = 200, box: float = BOX) -> tuple[Tensor, float]:
    """(n², 2) cell centres of [-box, box]² (float64) and the cell area."""
    h = 2 * box / n
    c = torch.linspace(-box + h / 2, box - h / 2, n, dtype=torch.float64)
    gx, gy = torch.meshgrid(c, c, indexing="xy")
    return torch.stack([gx.flatten(), gy.flatten()], 1), h * h


@torch.no_grad()
def toy_kl(f: Callable[[Tensor], Tensor], toy: str | Toy, n: int = 200, box: float = BOX,
           temperature: float = 1.0) -> float:
    """KL(true || model) on an n x n grid of [-box, box]², the model density ∝ exp(f / temperature);
    ``f`` maps (N, 2) float32 -> (N,) (the network's f = -E). The chains the EBM learns from
    (z <- z + (s²/2) g + s eps xi, any step s) target exp(f / eps²): ``temperature=eps**2`` scores
    that density; 1 scores exp(f)."""
    check_real("temperature", temperature, low=0.0, low_open=True)
    toy = toy if isinstance(toy, Toy) else Toy(toy)
    pts, _ = grid(n, box)
    log_p = toy.log_prob(pts)
    log_p = log_p - torch.logsumexp(log_p, 0)
    fx = torch.cat([f(c.float()).double().cpu() for c in pts.split(8192)]) / temperature
    log_q = fx - torch.logsumexp(fx, 0)
    p = log_p.exp()
    terms = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p))
    return float(terms.sum())


def mmd(real: Tensor, fake: Tensor) -> float:
    """Unbiased Gaussian-kernel MMD² (median bandwidth) between (N, ...) sets; non-finite rows of
    ``fake`` dropped."""
    fake = fake.flatten(1)
    fake = fake[torch.isfinite(fake).all(1)]
    return float(gaussian_mmd(real.flatten(1).float(), fake.float()))


@lru_cache(maxsize=4)
def feature_extractor(dataset: str) -> tuple[FeatureClassifier, float]:
    """The offline FID classifier of ``dataset`` (32x32, [-1, 1]), trained once (one epoch) and
    cached at ``artifact_dir('stanley', dataset)/fid-classifier-32.pt``; (model, held-out acc)."""
    x, y = load_idx_images(dataset, "train")
    path = artifact_dir("stanley", dataset) / "fid-classifier-32.pt"
    return train_feature_classifier(x, y, num_classes=10, epochs=1, cache_path=path)


def fid(real: Tensor, fake: Tensor, dataset: str) -> float:
    """FID between image sets (N, 1, 32, 32) in [-1, 1] in ``dataset``'s classifier features."""
    model, _ = feature_extractor(dataset)
    metric = FeatureFID(model, name=f"{dataset}-cnn")
    metric.update(real.float(), real=True)
    metric.update(fake.float().nan_to_num(0.0).clamp(-1, 1), real=False)
    return float(metric.compute())
