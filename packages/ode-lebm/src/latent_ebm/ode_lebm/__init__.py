"""ODE-LEBM: latent space energy-based neural ODEs (Cheng et al., TMLR 2025, arXiv 2409.03845),
its Gaussian-prior ablation, and an amortised latent ODE baseline (Rubanova et al. 2019)."""

from latent_ebm.ode_lebm.data import ODELEBMDataModule, make_sequences
from latent_ebm.ode_lebm.latent_ode import LatentODEVAE
from latent_ebm.ode_lebm.model import ODELEBMModule

__all__ = ["LatentODEVAE", "ODELEBMDataModule", "ODELEBMModule", "make_sequences"]
