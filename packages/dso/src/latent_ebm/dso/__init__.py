"""Dual-Space Optimization (Kong et al., arXiv 2402.17179v1; the released ``onlinelearn`` phase of
deqiankong/Latent-Prompt-Transformer-Molecule-Design) on the Latent Prompt Transformer of
``latent-ebm-lpt-mol``: ``DSOModule`` (the LPT with a weighted multi-objective design energy),
``DSODataModule`` (lpt-mol's SELFIES data), ``loop`` (DSO and its single-space ablations as
configurations of lpt-mol's one shifting loop), ``run`` (``latent-ebm-dso design``)."""

from .data import DSODataModule
from .loop import DSO, MODES, loop_config, run_dso
from .model import DSOModule

__all__ = ["DSO", "MODES", "DSODataModule", "DSOModule", "loop_config", "run_dso"]
