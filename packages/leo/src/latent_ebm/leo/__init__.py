"""LEO (Yu et al., arXiv 2405.16730v1): offline black-box optimisation in an energy-based latent
space, the prior learned by NTRE (noise-intensified telescoping density-ratio estimation).

``LEOModule`` (the model), ``LEODataModule`` (an offline task's data), ``OfflineTask`` /
``make_task`` (the Design-Bench-style task interface), ``baselines`` (Grad. Mean, best of data)."""

from .data import LEODataModule
from .model import LEOModule
from .tasks import OfflineTask, make_task, normalised_score

__all__ = ["LEODataModule", "LEOModule", "OfflineTask", "make_task", "normalised_score"]
