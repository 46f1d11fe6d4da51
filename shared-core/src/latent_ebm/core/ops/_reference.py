"""Pure-torch reference of the fused Langevin kernels (the "torch" backend).

It draws the same N(0, 1) stream as ``csrc/philox.h`` (see the layout there and in
:mod:`latent_ebm.core.ops`): Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as
1, 2, 3", SC 2011) keyed by the 64-bit seed, counter = (block lo, block hi, offset lo, offset hi)
with block = element_index // 4, and Box-Muller on the two pairs of 32-bit words of a block.

uint32 arithmetic is emulated on int64 tensors: every intermediate stays below 2**63, and the
32x32 -> 64-bit product of a round is split into two 32x16-bit products.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "anisotropic_update_",
    "langevin_update_",
    "mala_propose",
    "philox4x32_10",
    "philox_normal",
    "philox_normal_",
]

_MASK32 = 0xFFFFFFFF
_M0, _M1 = 0xD2511F53, 0xCD9E8D57  # Philox4x32 multipliers (Random123)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85  # Weyl key increments (golden ratio, sqrt(3) - 1)
_ROUNDS = 10
# Angle of the Box-Muller pair: theta = 2*pi*(k + 0.5) / 2**23 with k the top 23 bits of the word;
# one quadrant spans 2**21 values of k and the octant boundary is at 2**20.
_ANGLE_UNIT = 2.0 * math.pi / 2.0**23


def _mulhilo(m: int, c: Tensor) -> tuple[Tensor, Tensor]:
    """(hi, lo) 32-bit halves of the 64-bit product m * c, for uint32 values held in int64."""
    a = (c & 0xFFFF) * m  # < 2**48
    b = (c >> 16) * m  # < 2**48;  m * c = a + b * 2**16
    t = a + ((b & 0xFFFF) << 16)
    return (b >> 16) + (t >> 32), t & _MASK32


def philox4x32_10(
    counter: tuple[Tensor, Tensor, Tensor, Tensor], key: tuple[int, int]
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Philox4x32-10 of a batch of 128-bit counters (four int64 tensors holding uint32 words)."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for r in range(_ROUNDS):
        if r:
            k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def _log_uniform(w: Tensor) -> Tensor:
    """log(u), u = ((w >> 9) + 0.5) / 2**23 in (0, 1): exact in float32."""
    u = ((w >> 9).to(torch.float32) + 0.5) * 2.0**-23
    return torch.log(u)


def _sincos_uniform(w: Tensor) -> tuple[Tensor, Tensor]:
    """(sin, cos) of theta = 2*pi*u, reduced to [0, pi/4] in exact integer arithmetic."""
    k = w >> 9  # 23 bits
    q = k >> 21  # quadrant
    j = k & ((1 << 21) - 1)
    upper = j >= (1 << 20)  # second octant of the quadrant: use pi/2 - phi
    jj = torch.where(upper, (1 << 21) - 1 - j, j)
    phi = (jj.to(torch.float32) + 0.5) * _ANGLE_UNIT  # in (0, pi/4)
    s, c = torch.sin(phi), torch.cos(phi)
    s, c = torch.where(upper, c, s), torch.where(upper, s, c)  # sin, cos of the in-quadrant angle
    sin = torch.where(q == 0, s, torch.where(q == 1, c, torch.where(q == 2, -s, -c)))
    cos = torch.where(q == 0, c, torch.where(q == 1, -s, torch.where(q == 2, -c, s)))
    return sin, cos


def _normal_blocks(n_blocks: int, seed: int, offset: int, device: torch.device) -> Tensor:
    """(n_blocks, 4) float32 normals: lanes (r cos a, r sin a, r' cos a', r' sin a')."""
    block = torch.arange(n_blocks, dtype=torch.int64, device=device)
    c0 = block & _MASK32
    c1 = block >> 32
    c2 = torch.full_like(block, offset & _MASK32)
    c3 = torch.full_like(block, (offset >> 32) & _MASK32)
    w0, w1, w2, w3 = philox4x32_10((c0, c1, c2, c3), (seed & _MASK32, (seed >> 32) & _MASK32))
    r0 = torch.sqrt(-2.0 * _log_uniform(w0))
    r1 = torch.sqrt(-2.0 * _log_uniform(w2))
    s0, k0 = _sincos_uniform(w1)
    s1, k1 = _sincos_uniform(w3)
    return torch.stack((r0 * k0, r0 * s0, r1 * k1, r1 * s1), dim=1)


def _noise(numel: int, seed: int, offset: int, device: torch.device) -> Tensor:
    """The first ``numel`` float32 normals of stream (seed, offset), flat."""
    n_blocks = (numel + 3) // 4
    return _normal_blocks(n_blocks, seed, offset, device).reshape(-1)[:numel]


def _math_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def philox_normal(
    shape: tuple[int, ...], seed: int, offset: int, device: torch.device, dtype: torch.dtype
) -> Tensor:
    """N(0, 1) draws of stream (seed, offset) in row-major element order, cast to ``dtype``."""
    numel = math.prod(shape)
    return _noise(numel, seed, offset, torch.device(device)).reshape(shape).to(dtype)


def langevin_update_(x: Tensor, grad: Tensor, a: float, b: float, seed: int, offset: int) -> Tensor:
    """x <- x - a * grad + b * eps, in float32 math (float64 for float64 tensors)."""
    mt = _math_dtype(x.dtype)
    eps = _noise(x.numel(), seed, offset, x.device).reshape(x.shape).to(mt)
    out = x.to(mt) - a * grad.to(mt)
    out = out + b * eps
    return x.copy_(out)


def anisotropic_update_(
    x: Tensor,
    grad: Tensor,
    ss_thr: float,
    noise_scale: float,
    threshold: float,
    seed: int,
    offset: int,
) -> Tensor:
    """s2_i = ss_thr / max(threshold, |g_i|);  x_i <- x_i - (0.5 s2_i) g_i + (sqrt(s2_i) noise_scale) eps_i.

    ``ss_thr`` = step_size**2 * threshold, computed once in double so that every backend rounds
    the same products.
    """
    mt = _math_dtype(x.dtype)
    eps = _noise(x.numel(), seed, offset, x.device).reshape(x.shape).to(mt)
    g = grad.to(mt)
    m = torch.clamp(g.abs(), min=threshold)  # max(threshold, |g_i|)
    s2 = torch.full_like(m, ss_thr).div_(m)  # a true division (scalar / tensor is a reciprocal)
    out = x.to(mt) - (0.5 * s2) * g
    out = out + (torch.sqrt(s2) * noise_scale) * eps
    return x.copy_(out)


def mala_propose(
    x: Tensor, grad: Tensor, a: float, b: float, seed: int, offset: int
) -> tuple[Tensor, Tensor]:
    """(x - a * grad + b * eps,  -0.5 * sum(eps**2 over non-batch dims)) without touching x."""
    mt = _math_dtype(x.dtype)
    eps = _noise(x.numel(), seed, offset, x.device).reshape(x.shape).to(mt)
    out = x.to(mt) - a * grad.to(mt)
    out = out + b * eps
    log_q = -0.5 * eps.reshape(x.shape[0], -1).square().sum(dim=1)
    return out.to(x.dtype), log_q


def philox_normal_(out: Tensor, seed: int, offset: int) -> Tensor:
    """Fill the float32 tensor ``out`` with stream (seed, offset) in row-major order."""
    return out.copy_(_noise(out.numel(), seed, offset, out.device).reshape(out.shape))
