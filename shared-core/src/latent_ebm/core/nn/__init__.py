"""Networks shared by several methods: the latent-conditioned Transformer decoder (LTM, LPT, and
their plain-GPT baseline), the 1-d UNet of LPT's prior and the DDPM image UNet (CDRL's initializer)."""

from .attention import KVCache
from .blocks import RMSNorm
from .ddpm_unet import DDPMUNet
from .decoder import LatentConditionedDecoder
from .functional import batch_view, gaussian_kl
from .rope import apply_rope, latent_positions, rope_tables
from .sampling import check_sampling, sample_next_token
from .unet1d import UNet1d

__all__ = [
    "DDPMUNet",
    "KVCache",
    "LatentConditionedDecoder",
    "RMSNorm",
    "UNet1d",
    "apply_rope",
    "batch_view",
    "check_sampling",
    "gaussian_kl",
    "latent_positions",
    "rope_tables",
    "sample_next_token",
]
