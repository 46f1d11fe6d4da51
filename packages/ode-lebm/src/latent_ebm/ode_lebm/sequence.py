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

from latent_ebm.core.checks import check_choice, not_allowed, require
from latent_ebm.ode_lebm.nets import (
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
    mask (B, T) float). Raises ValueError naming the offending key, shape or entry
    (``x.shape=(3, 6, 2) is not allowed; ...``, ``x[1, 2]=nan is not allowed; ...``)."""
    if not isinstance(batch, dict):
        raise not_allowed("type(batch)", type(batch).__name__, "it must be a dict with keys 'x', 't' (and 'mask')")
    require("sorted(batch)", sorted(batch), "x" in batch and "t" in batch, "it must hold 'x' and 't' (and 'mask')")
    x, t = batch["x"], batch["t"]
    require("x.shape", tuple(x.shape), x.ndim == 2 + len(obs_shape) and tuple(x.shape[2:]) == tuple(obs_shape),
            f"it must be (B, T, {', '.join(map(str, obs_shape))})")
    if t.ndim == 2:
        require("t.shape", tuple(t.shape), t.shape[0] == x.shape[0], f"a (B, T) t must have B = x.shape[0] = {x.shape[0]}")
        differ = (t != t[:1]).any(1).nonzero()
        if len(differ):
            i = int(differ[0])
            raise not_allowed(f"t[{i}]", t[i].tolist()[:8], f"a (B, T) t must repeat one time grid on every row "
                              f"(t[0]={t[0].tolist()[:8]}); irregular sampling is expressed with mask")
        t = t[0]
    check_times(t, "t")
    require("t.shape", tuple(t.shape), t.shape[0] == x.shape[1], f"it must be (T,) with T = x.shape[1] = {x.shape[1]}")
    mask = batch.get("mask")
    if mask is None:
        mask = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
    require("mask.shape", tuple(mask.shape), tuple(mask.shape) == tuple(x.shape[:2]),
            f"it must be (B, T) = {tuple(x.shape[:2])}")
    mask = mask.to(x.dtype)
    observed = mask.view(*mask.shape, *([1] * len(obs_shape))).bool().expand_as(x)
    bad = (observed & ~torch.isfinite(x)).nonzero()
    if len(bad):
        where = ", ".join(str(int(i)) for i in bad[0])
        raise not_allowed(f"x[{where}]", x[tuple(bad[0])].item(),
                          "observed values (mask == 1) must be finite; mark missing values with mask = 0")
    empty = (mask.sum(1) == 0).nonzero()
    if len(empty):
        i = int(empty[0])
        raise not_allowed(f"mask[{i}]", mask[i].tolist()[:8], "every sequence needs at least one observed time point")
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
    check_choice("obs", obs, ("vector", "frames"))
    if obs == "frames":
        return ConvEmission(latent_dim, channels, frame_size, width=hidden // 2), (channels, frame_size, frame_size)
    return MLPEmission(latent_dim, obs_dim, hidden, n_layers), (obs_dim,)


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
    for name, scores in (("scores_in", scores_in), ("scores_out", scores_out)):
        bad = (~torch.isfinite(scores)).nonzero()
        if len(bad):
            i = int(bad[0])
            raise not_allowed(f"{name}[{i}]", scores[i].item(), "AUROC needs finite scores")
    s = torch.cat([scores_in, scores_out]).double()
    order = s.argsort()
    ranks = torch.empty_like(s)
    ranks[order] = torch.arange(1, len(s) + 1, dtype=s.dtype)
    for v in s.unique()[(s.unique()[:, None] == s).sum(1) > 1]:  # average ranks over ties
        ranks[s == v] = ranks[s == v].mean()
    n_in, n_out = len(scores_in), len(scores_out)
    u = ranks[n_in:].sum() - n_out * (n_out + 1) / 2
    return float(u / (n_in * n_out))
