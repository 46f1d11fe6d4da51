"""Latent Prompt Transformer for molecule design (Kong, Huang, Xie, Wu; arXiv 2310.03253).

The docking oracle (``latent_ebm.lpt_mol.docking``) is imported on demand: it needs the
``[docking]`` extra (AutoDock Vina, meeko).
"""
from .data import LPTMolDataModule, SelfiesVocab
from .design import decode, design, sample_latents_given_y
from .guacamol_objectives import celecoxib_rediscovery, fexofenadine_mpo, osimertinib_mpo
from .model import LPTMolModule
from .nets import PropertyMLP
from .oracles import ORACLES, Oracle, penalized_logp, qed, sa
from .shift import ShiftConfig, ShiftState, run_shifting

__all__ = ["ORACLES", "LPTMolDataModule", "LPTMolModule", "Oracle", "PropertyMLP", "SelfiesVocab",
           "ShiftConfig", "ShiftState", "celecoxib_rediscovery", "decode", "design", "fexofenadine_mpo",
           "osimertinib_mpo", "penalized_logp", "qed", "run_shifting", "sa", "sample_latents_given_y"]
