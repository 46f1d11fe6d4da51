"""Energy-based cooperative learning for multi-domain image-to-image translation (Song, Zhu, He,
Wu, Xie, arXiv 2306.14448): ``CoopI2IModule`` (multi-head descriptor, AdaIN translator, style
encoder and style generator learned by multi-domain MCMC teaching on the core's
``CooperativeModule``), ``CoopI2IDataModule`` (digits / shapes rendered into 3 domains with an
exact re-rendering oracle; AFHQ sample images)."""

from .data import CoopI2IDataModule, render
from .model import CoopI2IModule

__all__ = ["CoopI2IDataModule", "CoopI2IModule", "render"]
