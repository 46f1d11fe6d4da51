"""Networks of ODE-LEBM: the latent dynamics h(z, t) solved with torchdiffeq, and the
emissions g(z_t) (MLP for state vectors, transposed-conv decoder for frames).

Cheng et al., "Latent Space Energy-based Neural ODEs", TMLR 2025 (arXiv 2409.03845): latent
dynamics dz/dt = h_θ(z, t), z(t_i) = ODESolve(h_θ, z(t0), t0 -> t_i), and emission
x_{t_i} = g_β(z(t_i)) + ε, ε ~ N(0, σ² I). In the disentangled variant only the dynamic part z_d
follows the ODE and g reads (z_s, z_d(t)). Only the paper's abstract could be read: the terms
are cited by name, not by equation number.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn as nn
from torchdiffeq import odeint, odeint_adjoint
from torchdiffeq._impl.odeint import SOLVERS

from latent_ebm.core.checks import check_choice, check_int, check_real, not_allowed, require

__all__ = ["ConvEmission", "LatentODE", "MLPEmission", "ODEFunc", "check_times", "mlp"]

Activation = Literal["tanh", "softplus", "gelu", "elu"]
_ACTS = {"tanh": nn.Tanh, "softplus": nn.Softplus, "gelu": nn.GELU, "elu": nn.ELU}


def mlp(d_in: int, d_hidden: int, d_out: int, n_layers: int = 2, act: Activation = "tanh") -> nn.Sequential:
    """``n_layers`` hidden layers of width ``d_hidden``, then a linear read-out."""
    check_choice("act", act, sorted(_ACTS))
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(n_layers):
        layers += [nn.Linear(d, d_hidden), _ACTS[act]()]
        d = d_hidden
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


class ODEFunc(nn.Module):
    """h_θ(z, t) of dz/dt = h_θ(z, t) (Cheng et al. 2025: latent dynamics): an MLP vector field;
    counts its function evaluations in ``nfe``."""

    def __init__(self, dim: int, hidden: int = 64, n_layers: int = 2, act: Activation = "tanh",
                 time_dependent: bool = False) -> None:
        super().__init__()
        self.time_dependent = time_dependent
        self.net = mlp(dim + int(time_dependent), hidden, dim, n_layers, act)
        self.nfe = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        if self.time_dependent:
            z = torch.cat([z, t.expand(*z.shape[:-1], 1)], -1)
        return self.net(z)


def check_times(t: torch.Tensor, name: str = "t") -> None:
    """t must be a 1-d, finite, strictly increasing tensor with at least one point; the error
    names the offending entry (``t[2:4]=[0.2, 0.1] is not allowed; ...``)."""
    if not isinstance(t, torch.Tensor):
        raise not_allowed(f"type({name})", type(t).__name__, "it must be a 1-d tensor of time points (T,)")
    require(f"{name}.shape", tuple(t.shape), t.ndim == 1 and t.numel() >= 1,
            "it must be (T,): a 1-d tensor of at least one time point")
    bad = (~torch.isfinite(t)).nonzero()
    if len(bad):
        i = int(bad[0])
        raise not_allowed(f"{name}[{i}]", t[i].item(), "time points must be finite")
    down = (t[1:] <= t[:-1]).nonzero()
    if len(down):
        i = int(down[0])
        raise not_allowed(f"{name}[{i}:{i + 2}]", t[i:i + 2].tolist(),
                          "time points must be strictly increasing: sort the observation times "
                          "(and the observations with them) and drop duplicates")


class LatentODE(nn.Module):
    """z(t_i) = ODESolve(h_θ, z(t0), t0 -> t_i) at every t_i, t0 = t[0] (Cheng et al. 2025: latent
    dynamics).

    method: any torchdiffeq solver; ``step_size`` sets the internal step of fixed-grid
    solvers (None: step on the grid t itself); ``adjoint`` uses the adjoint method for the
    backward pass (O(1) memory, slower).
    """

    def __init__(self, func: nn.Module, *, method: str = "rk4", step_size: float | None = None,
                 adjoint: bool = False, rtol: float = 1e-4, atol: float = 1e-5) -> None:
        super().__init__()
        check_choice("method", method, sorted(SOLVERS))
        check_real("step_size", step_size, low=0.0, low_open=True, allow_none=True)
        self.func, self.method, self.step_size, self.adjoint = func, method, step_size, adjoint
        self.rtol, self.atol = rtol, atol

    @property
    def nfe(self) -> int:
        return getattr(self.func, "nfe", 0)

    def forward(self, z0: torch.Tensor, t: torch.Tensor, *, check: bool = True) -> torch.Tensor:
        """z0: (B, D), t: (T,) -> z: (B, T, D) with z[:, 0] == z0.

        ``check=False`` skips the (host-syncing) validation of t inside sampling loops.
        """
        if check:
            check_times(t)
        if t.numel() == 1:
            return z0[:, None]
        options = {"step_size": self.step_size} if self.step_size and self.method in _FIXED else None
        solve = odeint_adjoint if self.adjoint else odeint
        kw = {"adjoint_params": tuple(self.func.parameters())} if self.adjoint else {}
        z = solve(self.func, z0, t.to(z0), method=self.method, options=options,
                  rtol=self.rtol, atol=self.atol, **kw)  # (T, B, D)
        return z.transpose(0, 1)


_FIXED = {"euler", "midpoint", "rk4", "heun2", "heun3", "explicit_adams", "implicit_adams", "fixed_adams"}


class MLPEmission(nn.Module):
    """g_β of x_{t_i} = g_β(z(t_i)) + ε (Cheng et al. 2025: neural emission): (..., D_z) -> (..., D_x),
    the mean of the observation."""

    def __init__(self, latent_dim: int, obs_dim: int, hidden: int = 64, n_layers: int = 2,
                 act: Activation = "tanh") -> None:
        super().__init__()
        self.net = mlp(latent_dim, hidden, obs_dim, n_layers, act)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ConvEmission(nn.Module):
    """g_β for frames (Cheng et al. 2025: neural emission; this decoder is ours): (..., D_z) ->
    (..., C, H, W), H = W = ``size``.

    A linear layer to a (4c, size/4, size/4) map, then two stride-2 transposed convolutions.
    Outputs means (Gaussian) or logits (Bernoulli): the likelihood decides.
    """

    def __init__(self, latent_dim: int, channels: int = 1, size: int = 16, width: int = 32) -> None:
        super().__init__()
        check_int("size", size, low=4)
        require("size", size, size % 4 == 0, "the conv decoder needs a multiple of 4")
        self.base, self.width, self.out_shape = size // 4, width, (channels, size, size)
        self.fc = nn.Linear(latent_dim, 4 * width * self.base**2)
        self.net = nn.Sequential(
            nn.ELU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1), nn.ELU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ELU(),
            nn.Conv2d(width, channels, 3, 1, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        h = self.fc(z.reshape(-1, z.shape[-1])).view(-1, 4 * self.width, self.base, self.base)
        return self.net(h).view(*lead, *self.out_shape)


def gaussian_log_lik(x: torch.Tensor, mean: torch.Tensor, mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """Σ over observed entries of log N(x_{t_i}; g_β(z(t_i)), σ² I), the emission's log-likelihood
    (Cheng et al. 2025); x, mean: (B, T, ...), mask: (B, T) -> [B]."""
    se = (x - mean).pow(2).flatten(2).sum(-1)  # (B, T)
    n = x[0, 0].numel()
    per_t = -0.5 * se / sigma**2 - n * (math.log(sigma) + 0.5 * math.log(2 * math.pi))
    return (per_t * mask).sum(1)


def bernoulli_log_lik(x: torch.Tensor, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ over observed frames of log Bernoulli(x; sigmoid(logits)) (x in [0, 1]) -> [B]."""
    ll = -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return (ll.flatten(2).sum(-1) * mask).sum(1)
