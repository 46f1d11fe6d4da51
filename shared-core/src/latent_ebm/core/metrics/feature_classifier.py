"""A small CNN classifier whose penultimate activations serve as offline FID features.

Where the Inception weights cannot be had (an offline machine), FID is computed in the feature
space of a classifier trained on the dataset's own training split. Such numbers compare models
on one dataset with one extractor; they are never mixed with Inception FIDs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FeatureClassifier", "train_feature_classifier"]


class FeatureClassifier(nn.Module):
    """Conv classifier for (N, C, H, W) images in [-1, 1]; `forward` returns features (N, num_features)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, num_features: int = 128) -> None:
        super().__init__()
        if in_channels < 1 or num_classes < 2 or num_features < 1:
            raise ValueError(
                f"need in_channels >= 1, num_classes >= 2, num_features >= 1; got "
                f"{in_channels}, {num_classes}, {num_features}"
            )
        self.in_channels, self.num_classes, self.num_features = in_channels, num_classes, num_features

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.SiLU(),
                nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.SiLU(),
                nn.MaxPool2d(2),
            )

        self.body = nn.Sequential(block(in_channels, 32), block(32, 64), block(64, 128))
        self.proj = nn.Linear(128, num_features)
        self.head = nn.Linear(num_features, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, num_features): global-average-pooled conv features, projected."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must be (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        h = self.body(x).mean(dim=(2, 3))  # (N, 128)
        return F.silu(self.proj(h))

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)

    def logits(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def train_feature_classifier(
    images: Tensor,
    labels: Tensor,
    *,
    num_classes: int | None = None,
    epochs: int = 2,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    cache_path: str | Path | None = None,
    holdout: float = 0.1,
) -> tuple[FeatureClassifier, float]:
    """Train (or load from `cache_path`) a `FeatureClassifier`; returns it and its held-out accuracy."""
    if images.ndim != 4 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"images must be (N, C, H, W) and labels (N,), got {tuple(images.shape)} and {tuple(labels.shape)}"
        )
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")
    num_classes = int(num_classes or int(labels.max()) + 1)
    with torch.inference_mode(False):  # parameters that can train, whatever mode the caller is in
        model = FeatureClassifier(images.shape[1], num_classes)
    cache = Path(cache_path) if cache_path is not None else None
    if cache is not None and cache.exists():
        state = torch.load(cache, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        return model.eval(), float(state["accuracy"])

    where = f", cached at {cache}" if cache is not None else ""
    print(f"training the FID feature classifier once ({images.shape[0]} images, {epochs} epochs; a few "
          f"minutes on a CPU{where})", file=sys.stderr, flush=True)
    # Callers may sit inside validation (Trainer inference mode, no_grad): training needs autograd.
    with torch.inference_mode(False), torch.enable_grad():
        model, accuracy = _fit(model, images.clone(), labels.clone(), epochs, batch_size, lr, seed, holdout)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(cache.suffix + ".tmp")
        torch.save({"model": model.state_dict(), "accuracy": accuracy}, tmp)
        tmp.replace(cache)
    return model, accuracy


def _fit(model: FeatureClassifier, images: Tensor, labels: Tensor, epochs: int, batch_size: int, lr: float,
         seed: int, holdout: float) -> tuple[FeatureClassifier, float]:
    """AdamW on the cross-entropy over all but a held-out fraction; (model, held-out accuracy)."""
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(images.shape[0], generator=gen)
    n_val = max(1, int(holdout * images.shape[0]))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = train_idx[torch.randperm(train_idx.numel(), generator=gen)]
        for start in range(0, order.numel(), batch_size):
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(model.logits(images[idx].float()), labels[idx].long())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        correct = 0
        for start in range(0, n_val, 512):
            idx = val_idx[start : start + 512]
            correct += int((model.logits(images[idx].float()).argmax(1) == labels[idx]).sum())
    return model, correct / n_val
