"""Latent Thought Models (Kong et al., ICML 2025; arXiv 2502.01567) on latent-ebm.

``LTMModule`` (dual-rate variational Bayes over per-layer latent thought vectors, on the core's
``DualRateModule``), ``GPTModule`` (the same-size autoregressive baseline), ``LTMDataModule``
(GPT-2 BPE corpora and the offline latent-topic corpus).
"""

from .data import LTMDataModule
from .model import GPTModule, LTMModule

__all__ = ["GPTModule", "LTMDataModule", "LTMModule"]
