"""The latent-space energy-based prior of Pang, Han, Nijkamp, Zhu, Wu, "Learning Latent Space
Energy-Based Prior Model", NeurIPS 2020 (LEBM).

p_alpha(z) = exp(f_alpha(z)) p_0(z) / Z(alpha), p_0 = N(0, sigma² I)  (sec. 2, the prior model).
So energy(z) = -f_alpha(z) + ||z||² / (2 sigma²). The maximum-likelihood gradient for alpha is
E_{p(z|x)}[grad f_alpha(z)] - E_{p_alpha(z)}[grad f_alpha(z)] (sec. 2, learning the prior):
the statistics of posterior samples against prior samples, both drawn by short-run Langevin.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from latent_ebm.core.checks import check_int
from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

from ._base import LatentPrior

__all__ = ["EnergyPrior"]

# LEBM's prior Langevin: 60 steps of size 0.4 (the official code's e_l_steps / e_l_step_size).
DEFAULT_SCHEDULE = LangevinSchedule(n_steps=60, step_size=0.4)


class _MLP(nn.Module):
    """f(u): flatten, Linear-GELU-Linear-GELU-Linear -> (B,), as LEBM's small prior MLP."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, u: Tensor) -> Tensor:
        return self.net(u.flatten(1)).squeeze(-1)


class EnergyPrior(LatentPrior):
    """p(u) ∝ exp(f(u)) N(u; 0, sigma² I), u of shape ``shape``; z = u.

    Args:
        shape: latent shape without the batch dimension (int or tuple).
        f: the negative energy correction, u (B, *shape) -> (B,) or (B, 1); an ``nn.Module`` is
            registered (its parameters are alpha). Default: an MLP with GELU and ``hidden`` units.
        hidden: width of the default MLP (LEBM uses 200).
        sigma: std of the base Gaussian p_0.
        schedule: Langevin settings of :meth:`sample` (default 60 ULA steps of size 0.4).
    """

    def __init__(
        self,
        shape: int | tuple[int, ...],
        f: Callable[[Tensor], Tensor] | None = None,
        hidden: int = 200,
        sigma: float = 1.0,
        schedule: LangevinSchedule = DEFAULT_SCHEDULE,
    ) -> None:
        super().__init__(shape, sigma)
        if f is None:
            check_int("hidden", hidden, low=1)
            f = _MLP(self.dim, hidden)
        elif not callable(f):
            raise ValueError(
                f"f={f!r} is not allowed; it must be a callable u -> Tensor[B] or None"
            )
        if not isinstance(schedule, LangevinSchedule):
            raise ValueError(f"schedule={schedule!r} is not allowed; it must be a LangevinSchedule")
        self.f = f
        self.schedule = schedule

    def log_potential(self, u: Tensor) -> Tensor:
        """f(u) as (B,)."""
        out = self.f(u)
        if not isinstance(out, Tensor) or out.shape not in ((u.shape[0],), (u.shape[0], 1)):
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(
                f"f(u) returned shape {got}; it must return ({u.shape[0]},) or ({u.shape[0]}, 1)"
            )
        return out.reshape(u.shape[0])

    def energy(self, u: Tensor) -> Tensor:
        """-f(u) + ||u||² / (2 sigma²): (B, *shape) -> (B,)."""
        u = self.check(u)
        return self.gaussian_energy(u) - self.log_potential(u)

    def sample(
        self,
        n: int,
        *,
        schedule: LangevinSchedule | None = None,
        u0: Tensor | None = None,
        generator: torch.Generator | None = None,
        return_info: bool = False,
    ) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
        """n short-run Langevin samples (n, *shape), started from u0 or from N(0, sigma² I).

        The start is drawn from ``generator`` and the chain's noise seeded from it, so a fixed
        generator state replays the samples. Returns u detached (and the sampler's info).
        """
        schedule = self.schedule if schedule is None else schedule
        if u0 is None:
            u0 = self.normal(n, generator)
        elif self.check(u0, "u0").shape[0] != n:
            raise ValueError(f"u0 with {u0.shape[0]} rows is not allowed; it must have n={n} rows")
        return langevin_from_schedule(
            self.energy, u0, schedule, generator=generator, return_info=return_info
        )

    def contrastive_loss(self, u_post: Tensor, u_prior: Tensor) -> Tensor:
        """f(u_prior).mean() - f(u_post).mean(), to minimise over alpha (inputs are detached).

        Its gradient is minus LEBM's likelihood gradient for alpha, estimated with posterior and
        prior samples.
        """
        u_post = self.check(u_post, "u_post").detach()
        u_prior = self.check(u_prior, "u_prior").detach()
        return self.log_potential(u_prior).mean() - self.log_potential(u_post).mean()
