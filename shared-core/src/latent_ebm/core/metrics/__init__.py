"""Sample-quality metrics shared by methods: FID with injectable features, MMD for toy data."""

from latent_ebm.core.metrics.feature_classifier import FeatureClassifier, train_feature_classifier
from latent_ebm.core.metrics.fid import FeatureFID, frechet_distance
from latent_ebm.core.metrics.mmd import gaussian_mmd

__all__ = [
    "FeatureClassifier",
    "FeatureFID",
    "frechet_distance",
    "gaussian_mmd",
    "train_feature_classifier",
]
