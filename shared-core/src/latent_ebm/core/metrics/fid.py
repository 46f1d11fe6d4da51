"""Fréchet distance between feature distributions (Heusel et al. 2017, eq. 6).

FID(r, g) = ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^{1/2}).

`FeatureFID` is torchmetrics' `FrechetInceptionDistance` with the feature extractor injected:
the standard Inception features where their weights are available, or any `nn.Module` mapping
images (N, C, H, W) to features (N, d), such as a classifier trained on the dataset's own
training split (`FeatureClassifier`). Results computed with different extractors are not
comparable, so every FID carries the name of its features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance

__all__ = ["FeatureFID", "frechet_distance"]


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> Tensor:
    """Closed-form Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    The trace of the matrix square root is the sum of the square roots of the eigenvalues of
    sigma1 @ sigma2 (real and non-negative for PSD inputs, up to rounding).
    """
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(
            f"mu/sigma shapes must match, got mu {tuple(mu1.shape)} vs {tuple(mu2.shape)}, "
            f"sigma {tuple(sigma1.shape)} vs {tuple(sigma2.shape)}"
        )
    mu1, mu2, sigma1, sigma2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    eig = torch.linalg.eigvals(sigma1 @ sigma2)
    tr_sqrt = eig.sqrt().real.sum()
    return (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * tr_sqrt


class _Features(nn.Module):
    """Adapter: frozen extractor in eval mode, float input, (N, d) output."""

    def __init__(self, extractor: nn.Module, num_features: int) -> None:
        super().__init__()
        self.extractor = extractor.eval().requires_grad_(False)
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        out = self.extractor(x.float())
        return out.flatten(1)


class FeatureFID(FrechetInceptionDistance):
    """FID over the features of an injected extractor.

    Args:
        extractor: `nn.Module` mapping images (N, C, H, W) in the range the extractor was
            trained on to features (N, d), or ``"inception"`` for torchmetrics' standard
            Inception-v3 pool features (needs torch-fidelity and its weights).
        num_features: d; inferred from `extractor.num_features` or a probe when omitted.
        input_shape: (C, H, W) of the probe used to infer d.
        name: which features these are, reported beside every number (e.g. "fashion-mnist-cnn").
    """

    def __init__(
        self,
        extractor: nn.Module | str,
        *,
        num_features: int | None = None,
        input_shape: tuple[int, int, int] = (1, 32, 32),
        name: str | None = None,
        reset_real_features: bool = True,
    ) -> None:
        if isinstance(extractor, str):
            if extractor != "inception":
                raise ValueError(f"extractor must be an nn.Module or 'inception', got {extractor!r}")
            try:
                super().__init__(feature=2048, normalize=True, reset_real_features=reset_real_features)
            except (ModuleNotFoundError, RuntimeError, OSError) as err:
                raise RuntimeError(
                    "Inception FID features need `torch-fidelity` and its weights "
                    f"(pt_inception-2015-12-05); they could not be loaded: {err}. "
                    "Pass a feature extractor module instead (e.g. FeatureClassifier)."
                ) from err
            self.feature_name = "inception-v3-pool3"
            return
        if not isinstance(extractor, nn.Module):
            raise ValueError(f"extractor must be an nn.Module or 'inception', got {type(extractor)}")
        if num_features is None:
            num_features = getattr(extractor, "num_features", None)
        if num_features is None:
            with torch.no_grad():
                probe = torch.zeros(2, *input_shape)
                num_features = int(extractor.eval()(probe).flatten(1).shape[1])
        super().__init__(
            feature=_Features(extractor, int(num_features)),
            normalize=True,
            reset_real_features=reset_real_features,
        )
        self.feature_name = name or type(extractor).__name__
