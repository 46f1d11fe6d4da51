"""Latent Prompt Transformer for molecule design (Kong, Huang, Xie, Wu; arXiv 2310.03253)."""
from .data import MolDataModule, SelfiesVocab
from .design import decode, design, sample_latents_given_y
from .model import LPTMol, PropertyMLP
from .oracles import Oracle, penalized_logp, qed, sa

__all__ = ["LPTMol", "MolDataModule", "Oracle", "PropertyMLP", "SelfiesVocab", "decode", "design",
           "penalized_logp", "qed", "sa", "sample_latents_given_y"]
