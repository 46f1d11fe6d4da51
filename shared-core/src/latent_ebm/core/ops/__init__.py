"""Fused Langevin kernels: one pass over x and grad, Gaussian noise drawn inside the kernel.

Backends: ``"cuda"`` (``csrc/langevin_cuda.cu``), ``"cpp"`` (``csrc/langevin_cpu.cpp``, OpenMP)
and ``"torch"`` (a pure-torch reference). The compiled ones build on first use; without a
compiler the reference runs after one warning. ``LATENT_EBM_OPS=torch|cpp|cuda`` forces one (an
unavailable forced backend raises ``RuntimeError``). All three draw the *same* noise, so a
chain replays across backends and devices up to float32 rounding.

Noise stream ``(seed, offset)`` (layout fixed in ``csrc/philox.h``):

- Philox4x32-10 (Salmon et al., SC 2011), key = (seed & 0xffffffff, seed >> 32),
  counter = (block & 0xffffffff, block >> 32, offset & 0xffffffff, offset >> 32) with
  block = i // 4 for element i of the row-major flattened tensor; output words (w0, w1, w2, w3).
- Box-Muller on (w0, w1) and (w2, w3): u = ((w >> 9) + 0.5) / 2**23 (exact in float32);
  r = sqrt(-2 log u_even), theta = 2 pi u_odd; element i gets lane i % 4 of
  (r0 cos theta0, r0 sin theta0, r1 cos theta1, r1 sin theta1). |eps| <= 5.77 by construction.

Updates (float32 math for float32/bfloat16/float16, float64 math for float64; s = step_size):

- ULA: x <- x - (s^2/2) grad + s * noise_scale * eps.
- Anisotropic (STANLEY, Karimi et al. 2023): s_i^2 = s^2 threshold / max(threshold, |g_i|);
  x_i <- x_i - (s_i^2/2) g_i + s_i * noise_scale * eps_i.
- MALA proposal: the ULA update out of place, and ``log_q_fwd[b] = -0.5 * sum(eps[b]**2)`` over
  the non-batch dims: log q(x'|x) up to the constant -D/2 log(2 pi sigma^2), sigma = s*noise_scale,
  which cancels in the Metropolis-Hastings ratio against the reverse move's
  log q(x|x') = -||x - x' + (s^2/2) grad(x')||^2 / (2 sigma^2) + the same constant.

``seed`` and ``offset`` are Python ints in [0, 2**64); a sampler draws ``seed`` once and uses the
step index as ``offset``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import _checks, _dispatch

__all__ = ["anisotropic_update_", "backend", "langevin_update_", "mala_propose", "philox_normal"]


def backend(device: torch.device | str | None = None) -> str:
    """``"cuda"``, ``"cpp"`` or ``"torch"``: the backend serving ``device`` (default: cuda if
    available, else cpu). Builds the compiled kernels if they are not built yet."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return _dispatch.backend_name(torch.device(device))


def _compiling() -> bool:
    return torch.compiler.is_compiling()


def _check_common(x, grad, step_size, noise_scale, seed, offset) -> None:
    _checks.check_pair(x, grad)
    _checks.check_nonneg("step_size", step_size)
    _checks.check_nonneg("noise_scale", noise_scale)
    _checks.check_seed("seed", seed)
    _checks.check_seed("offset", offset)


def langevin_update_(
    x: Tensor, grad: Tensor, step_size: float, noise_scale: float, seed: int, offset: int
) -> Tensor:
    """In-place ULA step x <- x - (s^2/2) grad + s * noise_scale * eps; returns x.

    x, grad: same shape (any), dtype and device, contiguous. eps: stream (seed, offset).
    """
    _check_common(x, grad, step_size, noise_scale, seed, offset)
    a, b = 0.5 * step_size * step_size, step_size * noise_scale
    args = (x, grad, a, b, _checks.to_int64(seed), _checks.to_int64(offset))
    if _compiling():
        torch.ops.latent_ebm.langevin_update_(*args)
    else:
        _dispatch.kernels(x.device).langevin_update_(*args)
    return x


def anisotropic_update_(
    x: Tensor,
    grad: Tensor,
    step_size: float,
    noise_scale: float,
    threshold: float,
    seed: int,
    offset: int,
) -> Tensor:
    """In-place STANLEY step with s_i^2 = s^2 threshold / max(threshold, |g_i|); returns x.

    x_i <- x_i - (s_i^2/2) g_i + s_i * noise_scale * eps_i (Karimi, Xie, Li 2023, the
    gradient-informed covariance of the anisotropic Langevin proposal).
    """
    _check_common(x, grad, step_size, noise_scale, seed, offset)
    _checks.check_positive("threshold", threshold)
    args = (
        x,
        grad,
        step_size * step_size * threshold,
        noise_scale,
        threshold,
        _checks.to_int64(seed),
        _checks.to_int64(offset),
    )
    if _compiling():
        torch.ops.latent_ebm.anisotropic_update_(*args)
    else:
        _dispatch.kernels(x.device).anisotropic_update_(*args)
    return x


def mala_propose(
    x: Tensor, grad: Tensor, step_size: float, noise_scale: float, seed: int, offset: int
) -> tuple[Tensor, Tensor]:
    """MALA proposal (x' = ULA update of x, x untouched) and ``log_q_fwd`` of shape [B].

    ``log_q_fwd[b] = -0.5 * sum(eps[b]**2)`` over all non-batch dims, float32 (float64 for float64
    x): the forward proposal log density without its constant, which cancels in the MH ratio.
    x: (B, ...) with B >= 1.
    """
    _check_common(x, grad, step_size, noise_scale, seed, offset)
    if x.dim() < 1 or x.shape[0] < 1:
        raise ValueError(f"x must have a batch dim of size >= 1, got shape {tuple(x.shape)}")
    a, b = 0.5 * step_size * step_size, step_size * noise_scale
    args = (x, grad, a, b, _checks.to_int64(seed), _checks.to_int64(offset))
    if _compiling():
        return torch.ops.latent_ebm.mala_propose(*args)
    return tuple(_dispatch.kernels(x.device).mala_propose(*args))


def philox_normal(
    shape: tuple[int, ...] | torch.Size | int,
    seed: int,
    offset: int,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """N(0, 1) draws of stream (seed, offset) in row-major order: the kernels' eps, as ``dtype``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise ValueError(f"shape={shape!r} is not allowed; it must be non-negative ints")
    if dtype not in _checks.SUPPORTED_DTYPES:
        raise ValueError(
            f"dtype={dtype} is not allowed; allowed: float32, float64, bfloat16, float16"
        )
    _checks.check_seed("seed", seed)
    _checks.check_seed("offset", offset)
    out = torch.empty(shape, dtype=torch.float32, device=device)
    args = (out, _checks.to_int64(seed), _checks.to_int64(offset))
    if math.prod(shape) > 0:
        if _compiling():
            torch.ops.latent_ebm.philox_normal_(*args)
        else:
            _dispatch.kernels(out.device).philox_normal_(*args)
    return out.to(dtype)
