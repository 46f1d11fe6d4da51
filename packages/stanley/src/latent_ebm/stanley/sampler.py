"""STANLEY's chains on an energy E = -f, with divergent chains detected per chain.

The paper's update (Karimi, Xie, Li, arXiv 2310.12667; Algorithm 1, eqs. "step" and "anila" of
the authors' LaTeX source, see ``shared/papers/stanley.md`` sec. 2), g = grad_z f(z):

    gamma = th / max(th, |g|),    z <- z + (gamma / 2) g + sqrt(gamma) eps xi,    xi ~ N(0, I)

is the core's ``langevin(method="anisotropic")`` with step_size 1, noise_scale eps, threshold
th (``variant="paper"``, the default). ULA with the same K, step and noise is the same call with
``method="ula"`` (= th -> inf); MALA adds the accept/reject step.

The released code, not the paper (``variant``; see the notes, "[code] differs from the paper"),
with s = step_size (s = 1: the code's update exactly):
- ``code_both`` (the authors' toy code): z <- z + s² gamma g + s eps gamma xi (gamma, not gamma/2
  and sqrt(gamma));
- ``code_noise`` (their image code): z <- z + s² g + s eps gamma xi (drift not scaled; noise
  scaled by gamma). Their map-broadcast bug (``repeat(3,1,1,1)``) is not reproduced.
Both read |g| at ``schedule.granularity`` (their code: ``pixel`` for images, ``sample`` for the toy)
and draw the same Philox noise as the core (stream (seed, k) at step k).

Divergence: a chain whose energy or state turns NaN/inf is marked, its energy and gradient are
zeroed, its state reset to 0 so the others run on (the networks are per-sample: no batch
statistics), and it is returned as NaN rows. :func:`finite_rows` says which to keep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

import torch
from torch import Tensor

from latent_ebm.core import ops
from latent_ebm.core.checks import check_choice, require
from latent_ebm.core.rng import SEED_HIGH
from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

__all__ = ["METHODS", "SAMPLERS", "VARIANTS", "finite_rows", "run_chains"]

Energy = Callable[[Tensor], Tensor]
Sampler = Literal["stanley", "ula", "mala"]
Variant = Literal["paper", "code_both", "code_noise"]
SAMPLERS = ("stanley", "ula", "mala")
VARIANTS = ("paper", "code_both", "code_noise")
METHODS = {"stanley": "anisotropic", "ula": "ula", "mala": "mala"}  # the core's method names


def finite_rows(x: Tensor) -> Tensor:
    """(B,) bool: the chains whose every coordinate is finite."""
    return torch.isfinite(x.reshape(x.shape[0], -1)).all(1)


def _view(rows: Tensor, like: Tensor) -> Tensor:
    return rows.view(-1, *([1] * (like.dim() - 1)))


class _Guard:
    """Marks chains with a non-finite energy or state; zeroes their energy, resets their state."""

    def __init__(self, energy: Energy, x0: Tensor, callback: Callable[[dict[str, Any]], None] | None,
                 mark_energy: bool = True) -> None:
        self.energy, self.callback, self.mark_energy = energy, callback, mark_energy
        self.bad = torch.zeros(x0.shape[0], dtype=torch.bool, device=x0.device)

    def __call__(self, x: Tensor) -> Tensor:
        e = self.energy(x)
        if not isinstance(e, Tensor) or e.shape != (x.shape[0],):
            return e  # the core names the wrong shape
        nonfinite = ~torch.isfinite(e)
        if self.mark_energy:  # MALA rejects a non-finite proposal: only its state can diverge
            self.bad |= nonfinite.detach()
        return torch.where(nonfinite, torch.zeros_like(e), e)  # zero gradient into those rows

    def after_step(self, record: dict[str, Any]) -> None:
        x = record["x"]
        rows = ~finite_rows(x)
        self.bad |= rows
        x.masked_fill_(_view(rows, x), 0.0)  # the live chain state: keep the others running
        if self.callback is not None:
            self.callback(record)

    def finish(self, x: Tensor) -> Tensor:
        return x.masked_fill(_view(self.bad, x), float("nan"))


def _gamma(g: Tensor, th: float, granularity: str) -> Tensor:
    """gamma = th / max(th, |g|) at ``granularity`` (element / pixel: norm over dim 1 / sample)."""
    if granularity == "element":
        mag = g.abs()
    elif granularity == "pixel":
        require("granularity", granularity, g.dim() >= 3, f"'pixel' needs (B, C, ...) states; got {tuple(g.shape)}")
        mag = torch.linalg.vector_norm(g, dim=1, keepdim=True)
    else:
        mag = torch.linalg.vector_norm(g.reshape(g.shape[0], -1), dim=1).view(-1, *([1] * (g.dim() - 1)))
    return th / mag.clamp_min(th)


def _code_chain(energy: Energy, x0: Tensor, s: LangevinSchedule, variant: str, generator: torch.Generator | None,
                guard: _Guard) -> Tensor:
    """The released code's updates (module docstring); gradients w.r.t. x only."""
    seed = int(torch.randint(0, SEED_HIGH, (), dtype=torch.int64, generator=generator))
    x = x0.detach().clone()
    step, noise = float(s.step_size), float(s.noise_scale)
    with torch.inference_mode(False), torch.enable_grad():
        for k in range(s.n_steps):
            xr = x.detach().requires_grad_(True)
            e = energy(xr)
            (g,) = torch.autograd.grad(e.sum(), xr)
            grad_f = -g  # E = -f
            gamma = _gamma(grad_f, s.threshold, s.granularity)
            xi = ops.philox_normal(x.shape, seed, k, x.device, x.dtype)
            drift = step**2 * (gamma * grad_f if variant == "code_both" else grad_f)
            x = (x + drift + step * noise * gamma * xi).detach()
            guard.after_step({"step": k, "x": x, "energy": e.detach(), "grad_norm": None})
    return x


def run_chains(energy: Energy, x0: Tensor, schedule: LangevinSchedule, *, sampler: Sampler = "stanley",
               variant: Variant = "paper", generator: torch.Generator | None = None,
               callback: Callable[[dict[str, Any]], None] | None = None) -> Tensor:
    """K = ``schedule.n_steps`` steps of ``sampler`` on ``energy`` (E(x) -> (B,), p ∝ exp(-E)) from
    ``x0`` (B, ...); returns the chains (detached), diverged ones as NaN rows.

    ``schedule`` gives s (``step_size``), eps (``noise_scale``), th (``threshold``) and the
    granularity of |g|; its ``method`` is set from ``sampler``. ``variant`` != "paper" needs
    ``sampler="stanley"``. Noise: one seed drawn from ``generator`` (default: the global RNG).
    """
    check_choice("sampler", sampler, SAMPLERS)
    check_choice("variant", variant, VARIANTS)
    require("variant", variant, variant == "paper" or sampler == "stanley",
            f"the released code's variants are STANLEY's; sampler={sampler!r} takes variant='paper'")
    guard = _Guard(energy, x0, callback, mark_energy=sampler != "mala")
    if variant != "paper":
        return guard.finish(_code_chain(guard, x0, schedule, variant, generator, guard))
    sched = replace(schedule, method=METHODS[sampler])
    x = langevin_from_schedule(guard, x0, sched, generator=generator, callback=guard.after_step)
    return guard.finish(x)
