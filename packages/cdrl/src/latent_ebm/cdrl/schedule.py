"""The diffusion schedule of (C)DRL and every per-level coefficient derived from it.

Levels t = 1..n (official: n = 6). With u = t / n and the cosine-style logSNR schedule of the
official code (AlvinZhuyx/CDRL ``main_uncond.py`` ``logsnr_schedule_fn``; the paper's equation
number is unverified: only its abstract and opening could be read; Gao et al. 2021 use a
related cosine-type schedule),

    logSNR(u) = -2 log tan(a u + b),  b = arctan(exp(-logSNR_max / 2)),
                a = arctan(exp(-logSNR_min / 2)) - b,

so logSNR(0) = logSNR_max (9.8) and logSNR(1) = logSNR_min (-5.1). alpha(u) = sigmoid(logSNR(u))
and the forward marginal is x_t = sqrt(alpha_t) x + sqrt(1 - alpha_t) eps (official
``diffusion_forward``; DRL's eq. number unverified).

One transition t-1 -> t: x_t = sqrt(alpha_t / alpha_{t-1}) x_{t-1} + sigma_t eps with
sigma_t^2 = beta_t = 1 - alpha_t / alpha_{t-1}. The EBM of level t scores the *scaled* sample
x~ = m_t x_{t-1}, m_t = sqrt(alpha_t / alpha_{t-1}) (m_n = 1 at the noisiest, "final", level,
whose EBM is the unconditional marginal of x_{n-1}; official ``is_final`` / ``as_t_mul``); its
conditional is (Gao et al. 2021, sec. 3; eq. number unverified)

    p(x~ | x_t) ∝ exp(f(x~, t) - ||x~ - x_t||^2 / (2 sigma_t^2))    (no tether at t = n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from latent_ebm.core.checks import check_int, check_real, require

__all__ = ["LevelCoefficients", "NoiseSchedule"]


@dataclass(frozen=True)
class LevelCoefficients:
    """Per-example coefficients of the levels ``t`` (all tensors (B,), float).

    ``logsnr_t``/``logsnr_s``: logSNR at t and t-1; ``alpha_t``/``alpha_s``: sigmoid of those;
    ``beta``: 1 - alpha_t / alpha_s; ``sigma``: sqrt(beta); ``scale``: m_t (1 at the final level);
    ``beta_tilde``: the small reverse variance (1 - alpha_s) / (1 - alpha_t) * beta;
    ``final``: 1.0 where t = n (no tether); ``c``: c_t = sqrt(1 - alpha_s) / sqrt(1 - alpha(0));
    ``step_sq``: Langevin s_t^2 = 2 step_coeff c_t sigma_t^2 (official step_coeff = 2e-4);
    ``weight``: loss weight sigma_1 / sigma_t.
    """

    logsnr_t: Tensor
    logsnr_s: Tensor
    alpha_t: Tensor
    alpha_s: Tensor
    beta: Tensor
    sigma: Tensor
    scale: Tensor
    beta_tilde: Tensor
    final: Tensor
    c: Tensor
    step_sq: Tensor
    weight: Tensor


class NoiseSchedule:
    """logSNR schedule over ``n_levels`` intervals and the coefficients each level needs.

    Args:
        n_levels: number of intervals n (official 6).
        logsnr_min, logsnr_max: logSNR at the noisiest (u = 1) and cleanest (u = 0) ends.
        step_coeff: s_t^2 = 2 step_coeff c_t sigma_t^2 (official ``2e-4`` for CIFAR-10, the
            ``4e-4`` noise variance in ``main_uncond.py``'s ``Langevin``).
    """

    def __init__(self, n_levels: int = 6, logsnr_min: float = -5.1, logsnr_max: float = 9.8,
                 step_coeff: float = 2e-4) -> None:
        check_int("n_levels", n_levels, low=1)
        check_real("logsnr_min", logsnr_min)
        check_real("logsnr_max", logsnr_max)
        require("logsnr_max", logsnr_max, logsnr_max > logsnr_min, f"it must be greater than logsnr_min={logsnr_min}")
        check_real("step_coeff", step_coeff, low=0.0, low_open=True)
        self.n_levels, self.step_coeff = n_levels, float(step_coeff)
        self.logsnr_min, self.logsnr_max = float(logsnr_min), float(logsnr_max)
        self._b = math.atan(math.exp(-0.5 * logsnr_max))
        self._a = math.atan(math.exp(-0.5 * logsnr_min)) - self._b
        self._alpha_0 = 1.0 / (1.0 + math.exp(-logsnr_max))

    def logsnr(self, u: Tensor) -> Tensor:
        """logSNR(u) = -2 log tan(a u + b) for u in [0, 1]; decreasing in u."""
        return -2.0 * torch.log(torch.tan(self._a * u + self._b))

    def levels(self) -> Tensor:
        """logSNR at u = i / n for i = 0..n, shape (n + 1,), float64."""
        u = torch.arange(self.n_levels + 1, dtype=torch.float64) / self.n_levels
        return self.logsnr(u)

    def check_level(self, t: Tensor) -> None:
        """Raise ``ValueError`` unless ``t`` is a non-empty integer tensor of levels in 1..n."""
        require("t", f"dtype {t.dtype}", not t.dtype.is_floating_point and t.numel() > 0,
                "levels must be a non-empty integer tensor")
        lo, hi = int(t.min()), int(t.max())
        require("t", f"range {lo}..{hi}", lo >= 1 and hi <= self.n_levels, f"levels must lie in 1..{self.n_levels}")

    def coefficients(self, t: Tensor) -> LevelCoefficients:
        """Coefficients for integer levels ``t`` (B,) in 1..n (computed in float64, returned float32)."""
        self.check_level(t)
        n = self.n_levels
        u_t = t.double() / n
        lt, ls = self.logsnr(u_t), self.logsnr(u_t - 1.0 / n)
        a_t, a_s = torch.sigmoid(lt), torch.sigmoid(ls)
        ratio = a_t / a_s
        beta = 1.0 - ratio
        final = (t == n).double()
        scale = torch.where(final > 0, torch.ones_like(ratio), ratio.sqrt())
        beta_tilde = (1.0 - a_s) / (1.0 - a_t) * beta
        c = (1.0 - a_s).sqrt() / math.sqrt(1.0 - self._alpha_0)
        step_sq = 2.0 * self.step_coeff * c * beta
        sigma_1 = math.sqrt(1.0 - float(torch.sigmoid(self.logsnr(torch.tensor(1.0 / n,
                                    dtype=torch.float64)))) / self._alpha_0)
        weight = sigma_1 / beta.sqrt()
        vals = (lt, ls, a_t, a_s, beta, beta.sqrt(), scale, beta_tilde, final, c, step_sq, weight)
        return LevelCoefficients(*(v.float() for v in vals))

    @property
    def alpha_0(self) -> float:
        """alpha at u = 0, the (slightly noisy) level the final Tweedie step denoises."""
        return self._alpha_0
