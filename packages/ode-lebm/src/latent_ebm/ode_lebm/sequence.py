"""What ODE-LEBM and its baselines share: batch checks, the emission and its likelihood,
decoding latent trajectories, and the interpolation/extrapolation errors.

A batch is a dict:
    x:    (B, T, D) state vectors or (B, T, C, H, W) frames
    t:    (T,) or (B, T) with identical rows: strictly increasing observation times
    mask: (B, T) 1 where x[:, i] is observed (used for inference / training), else 0
    interp_mask, extrap_mask (optional, (B, T)): held-out points inside / after the observed
          window, scored by ``prediction_errors``
    index (optional, (B,)): dataset indices (persistent chains)
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn as nn

from latent_ebm.ode_lebm.networks import (
    ConvEmission,
    MLPEmission,
    bernoulli_log_lik,
    check_times,
    gaussian_log_lik,
)

__all__ = ["Batch", "auroc", "build_emission", "check_batch", "log_likelihood", "observed_window",
           "prediction_errors"]

Batch = dict[str, torch.Tensor]
ObsKind = Literal["vector", "frames"]
Likelihood = Literal["gaussian", "bernoulli"]


def check_batch(batch: Batch, obs_shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate a batch; return (x (B, T, *obs_shape) with unobserved entries zeroed, t (T,),
    mask (B, T) float). Raises ValueError naming the offending key."""
    if not isinstance(batch, dict) or "x" not in batch or "t" not in batch:
        raise ValueError(f"batch must be a dict with keys 'x', 't' (and 'mask'); got {type(batch).__name__}"
                         + (f" with keys {sorted(batch)}" if isinstance(batch, dict) else ""))
    x, t = batch["x"], batch["t"]
    if x.ndim != 2 + len(obs_shape) or tuple(x.shape[2:]) != tuple(obs_shape):
        raise ValueError(f"x has shape {tuple(x.shape)}; expected (B, T, {', '.join(map(str, obs_shape))})")
    if t.ndim == 2:
        if t.shape[0] != x.shape[0] or not (t == t[:1]).all():
            raise ValueError(
                f"t has shape {tuple(t.shape)}; a (B, T) t must repeat one time grid on every row "
                "(irregular sampling is expressed with mask)"
            )
        t = t[0]
    check_times(t, "t")
    if t.shape[0] != x.shape[1]:
        raise ValueError(f"t has {t.shape[0]} time points but x has T={x.shape[1]} (x {tuple(x.shape)})")
    mask = batch.get("mask")
    if mask is None:
        mask = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
    if tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(f"mask has shape {tuple(mask.shape)}; expected (B, T) = {tuple(x.shape[:2])}")
    mask = mask.to(x.dtype)
    observed = mask.view(*mask.shape, *([1] * len(obs_shape))).bool().expand_as(x)
    if not torch.isfinite(x[observed]).all():
        raise ValueError(
            "x has NaN or inf at observed positions (mask == 1); mark missing values with mask = 0"
        )
    if (mask.sum(1) == 0).any():
        raise ValueError("mask has a sequence with no observed time point; every row needs at least one")
    x = torch.where(observed, x, torch.zeros_like(x))
    return x, t.to(x), mask


def observed_window(x: torch.Tensor, t: torch.Tensor, mask: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x, t, mask) cut after the last time point observed in any row of the batch.

    Inference must see the same kind of input at test time as in training: a test batch that
    also holds the query times to extrapolate (mask 0 at the end) would otherwise run a
    recognition network over a long unobserved tail it never met in training, and makes
    posterior Langevin solve the ODE over points that carry no likelihood.
    """
    last = int(mask.sum(0).nonzero().max()) + 1
    return x[:, :last], t[:last], mask[:, :last]


def build_emission(obs: ObsKind, latent_dim: int, obs_dim: int, frame_size: int, channels: int,
                   hidden: int, n_layers: int) -> tuple[nn.Module, tuple[int, ...]]:
    """g_β and the observation shape it produces."""
    if obs == "vector":
        return MLPEmission(latent_dim, obs_dim, hidden, n_layers), (obs_dim,)
    if obs == "frames":
        return ConvEmission(latent_dim, channels, frame_size, width=hidden // 2), (channels, frame_size, frame_size)
    raise ValueError(f"obs={obs!r} is invalid; allowed: 'vector', 'frames'")


def log_likelihood(x: torch.Tensor, out: torch.Tensor, mask: torch.Tensor, likelihood: Likelihood,
                   sigma: float) -> torch.Tensor:
    """log p(x | z) summed over observed points: x, out (B, T, ...), mask (B, T) -> [B]."""
    if likelihood == "gaussian":
        return gaussian_log_lik(x, out, mask, sigma)
    return bernoulli_log_lik(x, out, mask)


def mean_from_output(out: torch.Tensor, likelihood: Likelihood) -> torch.Tensor:
    """The observation mean: identity (Gaussian) or sigmoid of logits (Bernoulli)."""
    return out if likelihood == "gaussian" else torch.sigmoid(out)


def prediction_errors(pred: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
    """Per-sequence MSE on the interpolation and extrapolation points (keys present when the
    batch has ``interp_mask`` / ``extrap_mask``): pred, x (B, T, ...) -> {name: [B]}."""
    x = batch["x"]
    se = (pred - torch.nan_to_num(x)).pow(2).flatten(2).mean(-1)  # (B, T)
    out = {}
    for name in ("interp", "extrap"):
        m = batch.get(f"{name}_mask")
        if m is not None:
            m = m.to(se)
            out[name] = (se * m).sum(1) / m.sum(1).clamp_min(1)
    return out


def auroc(scores_in: torch.Tensor, scores_out: torch.Tensor) -> float:
    """P(score_out > score_in) + ½ P(tie): the AUROC of flagging ``scores_out`` as anomalous,
    from raw scores of any scale (Mann-Whitney U with average ranks for ties)."""
    s = torch.cat([scores_in, scores_out]).double()
    if not torch.isfinite(s).all():
        raise ValueError("scores contain NaN or inf; AUROC needs finite scores")
    order = s.argsort()
    ranks = torch.empty_like(s)
    ranks[order] = torch.arange(1, len(s) + 1, dtype=s.dtype)
    for v in s.unique()[(s.unique()[:, None] == s).sum(1) > 1]:  # average ranks over ties
        ranks[s == v] = ranks[s == v].mean()
    n_in, n_out = len(scores_in), len(scores_out)
    u = ranks[n_in:].sum() - n_out * (n_out + 1) / 2
    return float(u / (n_in * n_out))
