"""Latent priors: each samples in its own space u and maps u to the generator's latent z with
``transform`` (the identity except for :class:`UNetPrior`). ``energy(u)`` is (B,), lower is
more likely."""

from .energy import EnergyPrior
from .gaussian import GaussianPrior
from .unet import UNetPrior

__all__ = ["EnergyPrior", "GaussianPrior", "UNetPrior"]
