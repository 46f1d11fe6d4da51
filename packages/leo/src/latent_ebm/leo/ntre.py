"""NTRE: noise-intensified telescoping density-ratio estimation of the latent prior's energy.

Reconstructed (the LEO paper body could not be read; see README, "what is reconstructed"):
- waymarks between the aggregate posterior q_agg (k = 0) and p_0 = N(0, I) (k = K), by linear
  combination of coupled samples (TRE's "linear combinations" waymarks):
      z_k = sqrt(1 - a_k²) z_q + a_k eps,   eps ~ N(0, I),   a_k = k / K;
- one logistic (NCE) classifier per consecutive pair (p_k against p_{k+1}), logit h_k(z);
- "noise-intensified": the denominator ("noise") distribution's magnitude is virtually scaled by
  M >= 1 ("Noisier" NCE, arXiv 2405.16730v2): the classifier reads P(p_k | z) = sigma(h_k - log M)
  and the noise term is weighted by M,
      L_k = E_{p_k}[softplus(-(h_k - log M))] + M E_{p_{k+1}}[softplus(h_k - log M)].
  Its minimiser is still h_k = log p_k / p_{k+1} for every M; as M grows the loss tends to
  -E_{p_k}[h_k] + E_{p_{k+1}}[exp(h_k)] + const, whose gradient is the importance-sampled
  maximum-likelihood gradient (hence "almost maximum likelihood"). M = 1 is plain TRE.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from latent_ebm.core.checks import check_int, check_real

from .nets import WaymarkRatios

__all__ = ["ntre_loss", "waymark_alphas", "waymarks"]


def waymark_alphas(n_waymarks: int, *, device: torch.device | None = None) -> Tensor:
    """a_k = k / K for k = 0..K, (K + 1,)."""
    check_int("n_waymarks", n_waymarks, low=1)
    return torch.linspace(0.0, 1.0, n_waymarks + 1, device=device)


def waymarks(z_q: Tensor, eps: Tensor, alphas: Tensor) -> Tensor:
    """z_k = sqrt(1 - a_k²) z_q + a_k eps for every k: (K + 1, B, d) from z_q, eps (B, d)."""
    a = alphas.to(z_q).view(-1, 1, 1)
    return (1 - a.square()).clamp_min(0).sqrt() * z_q.unsqueeze(0) + a * eps.unsqueeze(0)


def ntre_loss(ratios: WaymarkRatios, z_q: Tensor, eps: Tensor, *, noise_magnitude: float = 1.0) -> Tensor:
    """Mean over the K pairs of the noise-intensified NCE loss L_k (module docstring); z_q are
    aggregate-posterior samples (detached by the caller), eps ~ N(0, I) of the same shape."""
    check_real("noise_magnitude", noise_magnitude, low=1.0)
    k_pairs = len(ratios.heads)
    zs = waymarks(z_q, eps, waymark_alphas(k_pairs, device=z_q.device))
    log_m = math.log(noise_magnitude)
    total = z_q.new_zeros(())
    for k in range(k_pairs):
        h_num = ratios.head(k, zs[k]) - log_m
        h_den = ratios.head(k, zs[k + 1]) - log_m
        total = total + F.softplus(-h_num).mean() + noise_magnitude * F.softplus(h_den).mean()
    return total / k_pairs
