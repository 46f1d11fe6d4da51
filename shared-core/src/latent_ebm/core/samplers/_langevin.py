"""Langevin samplers over an energy callable: ULA, MALA, and STANLEY's anisotropic Langevin.

An energy maps x (B, ...) to (B,), lower is more likely: p(x) ∝ exp(-E(x)). With step size s,
gradient g = ∇E(x) and eps ~ N(0, I) from the Philox stream of :mod:`latent_ebm.core.ops`:

- ``ula``: x <- x - (s²/2) g + s·noise_scale·eps (unadjusted Langevin; Roberts & Tweedie 1996,
  eq. 1.3 with h = s²).
- ``mala``: the same move as a proposal x', accepted with probability
  min(1, exp(-E(x') + E(x)) q(x|x') / q(x'|x)), q the Gaussian proposal density (Roberts &
  Tweedie 1996, sec. 1.4). It targets exp(-E) for any noise_scale > 0.
- ``anisotropic`` (STANLEY; Karimi, Xie, Li 2023, arXiv 2310.12667): per-coordinate step
  s_i² = s²·threshold / max(threshold, |g_i|), then x_i <- x_i - (s_i²/2) g_i + s_i·noise_scale·eps_i.
  With s = 1, noise_scale = eps and threshold = th this is the paper's update (Algorithm 1, eqs.
  "step" and "anila" of the authors' LaTeX source, ``BelhalK/baiduresearch`` ``Tex/I-Conferences/
  22)IJCAI22/2)STANLEY/main.tex``, whose title and abstract match arXiv 2310.12667; a 2022 draft,
  not the final PDF): gamma = th / max(th, |grad f|), z <- z + (gamma/2) grad f + sqrt(gamma) eps xi,
  f = -E. The drift is truncated at th/2 per coordinate and the noise shrinks where gradients are
  steep. ``granularity`` says what |g| is: ``element`` (each coordinate; the paper's reading and
  the authors' rebuttal's), ``pixel`` (the norm over the channel axis, dim 1, one step per pixel
  shared by its channels: the authors' image code) or ``sample`` (the norm over all but the batch
  dim: their 2-d toy code). A position-dependent step with no correction term is biased: its
  stationary law is about exp(-E)·max(threshold, |g|)/threshold, not exp(-E) (on N(0, 1) with
  threshold 1 the variance is 1.415; ``tests/test_samplers.py`` asserts that value). Use ``mala``
  where exactness matters.

Noise for step k comes from stream (seed, offset=k), seed drawn once from ``generator``, so a
chain replays from the generator state alone; MALA's accept/reject uniforms use offset 2**32 + k.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor

from latent_ebm.core import ops

from ._schedule import DivergenceError, LangevinSchedule, check_settings

__all__ = ["langevin", "langevin_from_schedule"]

Energy = Callable[[Tensor], Tensor]
Callback = Callable[[dict[str, Any]], None]

_ACCEPT_OFFSET = 1 << 32  # MH uniforms of step k: offset 2**32 + k, disjoint from the proposal's k
_SEED_HIGH = (1 << 63) - 1


def _per_sample(v: Tensor) -> Tensor:
    """(B, ...) -> (B, D)."""
    return v.reshape(v.shape[0], -1)


def _batch_view(v: Tensor, like: Tensor) -> Tensor:
    """(B,) -> (B, 1, ..., 1) broadcasting against ``like``."""
    return v.view(-1, *([1] * (like.dim() - 1)))


class _Chain:
    """What every kernel shares: the energy, the settings, the seed and the divergence record.

    Divergence is recorded without host syncs: ``first_bad`` (a 0-d tensor, -1 while all is
    finite) keeps the first step whose energy was not finite; it is read once, at the end.
    """

    def __init__(
        self, energy: Energy, x: Tensor, n_steps: int, step_size: float, noise_scale: float,
        clip_grad: float | None, threshold: float, seed: int, want_norm: bool, granularity: str = "element",
    ) -> None:
        self.energy, self.n_steps, self.seed = energy, n_steps, seed
        self.step_size, self.noise_scale = float(step_size), float(noise_scale)
        self.clip_grad, self.threshold, self.granularity = clip_grad, float(threshold), granularity
        self.want_norm = want_norm or clip_grad is not None
        self.first_bad = torch.full((), -1, dtype=torch.int64, device=x.device)

    def evaluate(self, x: Tensor, step: int, want_norm: bool) -> tuple[Tensor, Tensor, Tensor | None]:
        """E(x) (B,), ∇ₓE(x) (B, ...) clipped per sample, and ||∇ₓE(x)|| (B,) before clipping."""
        xr = x.detach().requires_grad_(True)
        e = self.energy(xr)
        self._check_energy(e, x)
        # Gradients w.r.t. x only: parameters' .grad stay untouched and the graph is freed here.
        (g,) = torch.autograd.grad(e.sum(), xr, allow_unused=True)
        g = torch.zeros_like(x) if g is None else g
        e = e.detach()
        norm = None
        if want_norm or self.want_norm:
            norm = _per_sample(g).norm(dim=1)
            if self.clip_grad is not None:
                scale = (self.clip_grad / norm.clamp_min(1e-30)).clamp(max=1.0)
                g = g * _batch_view(scale.to(g.dtype), g)
        self.flag(torch.isfinite(e).all(), step)
        return e, g.contiguous(), norm

    def _check_energy(self, e: object, x: Tensor) -> None:
        if not isinstance(e, Tensor) or e.shape != (x.shape[0],):
            got = tuple(e.shape) if isinstance(e, Tensor) else type(e).__name__
            raise ValueError(
                f"energy(x) returned shape {got}; it must return one value per sample, shape "
                f"({x.shape[0]},) for x of shape {tuple(x.shape)}"
            )
        if not e.is_floating_point():
            raise ValueError(f"energy(x) returned dtype {e.dtype}; it must be a floating dtype")

    def flag(self, ok: Tensor, step: int) -> None:
        """Record ``step`` as the first divergent one if ``ok`` is False and none was recorded."""
        self.first_bad = torch.where(ok | (self.first_bad >= 0), self.first_bad, step)

    def raise_if_diverged(self, x: Tensor, method: str) -> None:
        """The call's single host sync: raise DivergenceError if any step went non-finite."""
        self.flag(torch.isfinite(x).all(), self.n_steps)
        bad = int(self.first_bad)
        if bad < 0:
            return
        where = (
            f"at step {bad} of {self.n_steps}" if bad < self.n_steps
            else f"in the returned sample (after step {self.n_steps - 1})"
        )
        raise DivergenceError(
            f"Langevin chain diverged: non-finite energy or sample {where} "
            f"(method={method!r}, step_size={self.step_size}, noise_scale={self.noise_scale}); "
            "lower step_size or set clip_grad"
        )


class _ULA:
    """One gradient evaluation and one fused in-place update per step."""

    def __init__(self, chain: _Chain) -> None:
        self.c = chain

    def begin(self, x: Tensor) -> None:
        pass

    def update(self, x: Tensor, g: Tensor, k: int) -> None:
        c = self.c
        ops.langevin_update_(x, g, c.step_size, c.noise_scale, c.seed, k)

    def step(self, x: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """x_k -> x_{k+1}; returns (x_{k+1}, E(x_k), ||∇E(x_k)||, accepted or None)."""
        e, g, norm = self.c.evaluate(x, k, False)
        self.update(x, g, k)
        return x, e, norm, None

    def final(self, x: Tensor) -> dict[str, Tensor]:
        """Energy and gradient norm at the returned sample: one extra evaluation."""
        e, _, norm = self.c.evaluate(x, self.c.n_steps, True)
        return {"energy": e, "grad_norm": norm}


class _Anisotropic(_ULA):
    def update(self, x: Tensor, g: Tensor, k: int) -> None:
        c = self.c
        if c.granularity == "element":  # the fused kernel: gamma from each |g_i|
            ops.anisotropic_update_(x, g, c.step_size, c.noise_scale, c.threshold, c.seed, k)
            return
        # one gamma per pixel (norm over channels) or per sample, the same Philox noise stream
        dims = (1,) if c.granularity == "pixel" else tuple(range(1, g.dim()))
        if c.granularity == "pixel" and g.dim() < 3:
            raise ValueError(f"granularity='pixel' needs x of shape (B, C, ...); got {tuple(g.shape)}")
        gamma = c.threshold / torch.linalg.vector_norm(g, dim=dims, keepdim=True).clamp_min(c.threshold)  # (0, 1]
        eps = ops.philox_normal(x.shape, c.seed, k, x.device, x.dtype)
        x.add_(-0.5 * c.step_size**2 * gamma * g + c.step_size * c.noise_scale * gamma.sqrt() * eps)


class _MALA:
    """ULA proposal + Metropolis-Hastings, per sample; E and ∇E of the current state are cached."""

    def __init__(self, chain: _Chain) -> None:
        self.c = chain

    def begin(self, x: Tensor) -> None:
        self.e, self.g, self.norm = self.c.evaluate(x, 0, False)
        self.n_accepted = torch.zeros((), dtype=torch.float64, device=x.device)

    def step(self, x: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        c = self.c
        e_old, norm_old = self.e, self.norm
        prop, log_q_fwd = ops.mala_propose(x, self.g, c.step_size, c.noise_scale, c.seed, k)
        e_p, g_p, norm_p = c.evaluate(prop, k, False)
        # log q(x | x') = -||x - x' + (s²/2)∇E(x')||² / (2 (s·noise_scale)²), constants cancel.
        var = (c.step_size * c.noise_scale) ** 2
        drift = x - prop + (0.5 * c.step_size**2) * g_p
        log_q_rev = -_per_sample(drift).square().sum(dim=1) / (2.0 * var)
        log_alpha = (e_old - e_p) + (log_q_rev - log_q_fwd)
        u = ops.philox_normal(x.shape[0], c.seed, _ACCEPT_OFFSET + k, device=x.device)
        accepted = torch.special.log_ndtr(u) < log_alpha  # NaN log_alpha rejects
        self.n_accepted += accepted.sum()
        keep = _batch_view(accepted, x)
        x = torch.where(keep, prop, x)
        self.g = torch.where(keep, g_p, self.g)
        self.e = torch.where(accepted, e_p, e_old)
        if norm_p is not None:
            self.norm = torch.where(accepted, norm_p, norm_old)
        return x, e_old, norm_old, accepted

    def final(self, x: Tensor) -> dict[str, Tensor]:
        norm = self.norm if self.norm is not None else _per_sample(self.g).norm(dim=1)
        n = self.c.n_steps * x.shape[0]
        rate = self.n_accepted / n if n else torch.full_like(self.n_accepted, float("nan"))
        return {"energy": self.e, "grad_norm": norm, "acceptance_rate": rate.float()}


_KERNELS: dict[str, type[_ULA] | type[_MALA]] = {
    "ula": _ULA,
    "mala": _MALA,
    "anisotropic": _Anisotropic,
}


def _draw_seed(generator: torch.Generator | int | None) -> int:
    """One Philox seed in [0, 2**63 - 1): drawn from ``generator`` (or the global RNG), or given."""
    if generator is None:
        return int(torch.randint(0, _SEED_HIGH, (), dtype=torch.int64))
    if isinstance(generator, int) and not isinstance(generator, bool):
        if not 0 <= generator < (1 << 64):
            raise ValueError(f"generator={generator} is not allowed; an int seed must be in [0, 2**64)")
        return generator
    if not isinstance(generator, torch.Generator):
        raise ValueError(
            f"generator={generator!r} is not allowed; pass a torch.Generator, an int seed or None"
        )
    draw = torch.randint(0, _SEED_HIGH, (), dtype=torch.int64, generator=generator,
                         device=generator.device)
    return int(draw)


def _check_inputs(energy: object, x0: object, callback: object) -> None:
    if not callable(energy):
        raise ValueError(f"energy={energy!r} is not allowed; it must be a callable x -> Tensor[B]")
    if not isinstance(x0, Tensor) or not x0.is_floating_point() or x0.dim() < 1 or x0.shape[0] < 1:
        desc = f"shape {tuple(x0.shape)}, dtype {x0.dtype}" if isinstance(x0, Tensor) else repr(x0)
        raise ValueError(
            f"x0 ({desc}) is not allowed; it must be a floating tensor (B, ...) with B >= 1"
        )
    if callback is not None and not callable(callback):
        raise ValueError(f"callback={callback!r} is not allowed; it must be callable or None")


def langevin(
    energy: Energy,
    x0: Tensor,
    n_steps: int,
    step_size: float,
    *,
    noise_scale: float = 1.0,
    method: str = "ula",
    clip_grad: float | None = None,
    threshold: float = 1.0,
    granularity: str = "element",
    generator: torch.Generator | int | None = None,
    callback: Callback | None = None,
    return_info: bool = False,
) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
    """Run ``n_steps`` of Langevin dynamics on ``energy`` from ``x0``; returns x (detached).

    Args:
        energy: ``energy(x) -> Tensor[B]``; p(x) ∝ exp(-energy(x)).
        x0: (B, ...) starting points (not modified).
        n_steps, step_size: number of steps and s (update as in the module docstring).
        noise_scale: multiplies the noise (1.0 samples exp(-E); 0.0 is gradient descent for
            ula/anisotropic; MALA needs > 0 and still targets exp(-E)).
        method: ``"ula"``, ``"mala"`` or ``"anisotropic"``.
        clip_grad: if set, each sample's gradient is rescaled to L2 norm <= clip_grad.
        threshold: STANLEY's threshold (anisotropic only).
        granularity: what |g| is in STANLEY's step: ``element``, ``pixel`` or ``sample``
            (anisotropic only; see the module docstring).
        generator: ``torch.Generator`` (one int64 seed is drawn from it), an int seed, or None
            (the global RNG).
        callback: called after every step with ``{"step", "x", "energy", "grad_norm"}`` (plus
            ``"accepted"`` (B,) bool for mala); energy and grad_norm are at the state the step
            left, x is the new state (a live view: clone it to keep it).
        return_info: also return ``{"energy", "grad_norm"}`` at the returned x (ula/anisotropic
            pay one extra evaluation for it) and, for mala, ``"acceptance_rate"`` (0-d tensor,
            mean over steps and samples).

    Gradients are taken w.r.t. x only, under ``torch.enable_grad()`` (works inside ``no_grad``
    and ``inference_mode``); parameters' ``.grad`` are not touched. No host sync in the loop:
    finiteness is recorded on device and checked once at the end, raising
    :class:`DivergenceError` naming the first step whose energy was NaN/inf.
    """
    check_settings(n_steps, step_size, noise_scale, method, clip_grad, threshold, granularity)
    _check_inputs(energy, x0, callback)
    seed = _draw_seed(generator)
    with torch.inference_mode(False), torch.enable_grad():
        x = x0.detach().clone(memory_format=torch.contiguous_format)
        chain = _Chain(energy, x, n_steps, step_size, noise_scale, clip_grad, threshold, seed,
                       want_norm=callback is not None, granularity=granularity)
        kernel = _KERNELS[method](chain)
        kernel.begin(x)
        for k in range(n_steps):
            x, e, norm, accepted = kernel.step(x, k)
            if callback is not None:
                record = {"step": k, "x": x, "energy": e, "grad_norm": norm}
                if accepted is not None:
                    record["accepted"] = accepted
                callback(record)
        info = kernel.final(x) if return_info else None
        chain.raise_if_diverged(x, method)
    return (x, info) if return_info else x


def langevin_from_schedule(
    energy: Energy, x0: Tensor, schedule: LangevinSchedule, **kwargs: Any
) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
    """:func:`langevin` with the settings of ``schedule``; ``kwargs``: generator, callback,
    return_info."""
    if not isinstance(schedule, LangevinSchedule):
        raise ValueError(f"schedule={schedule!r} is not allowed; it must be a LangevinSchedule")
    return langevin(energy, x0, **asdict(schedule), **kwargs)
