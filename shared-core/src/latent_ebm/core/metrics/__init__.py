"""Metrics shared by methods: FID with injectable features, MMD for toy data, paired per-seed verdicts."""

from latent_ebm.core.metrics.feature_classifier import FeatureClassifier, train_feature_classifier
from latent_ebm.core.metrics.fid import FeatureFID, frechet_distance
from latent_ebm.core.metrics.mmd import gaussian_mmd
from latent_ebm.core.metrics.paired import compare_runs, paired_comparison, sign_test_p

__all__ = [
    "FeatureClassifier",
    "FeatureFID",
    "compare_runs",
    "frechet_distance",
    "gaussian_mmd",
    "paired_comparison",
    "sign_test_p",
    "train_feature_classifier",
]
