"""Low-dimensional dynamical systems generated locally: sinusoids, damped oscillators,
Lotka-Volterra.

Every generator is deterministic given ``seed``, returns a :class:`Sequences` on a shared time
grid ``t`` (the irregular sub-sampling is a per-sequence mask added by the DataModule), and takes
the ranges of its dynamical parameters as arguments, so a *changed-dynamics* test set is the same
call with ranges outside the training ones (Cheng et al. 2025 claim generalisation to new
dynamic parameterisations; the sinusoid and Lotka-Volterra settings follow MoNODE's
``data/config.yml``, Auzina et al. 2023).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from latent_ebm.core.checks import check_int, check_real, require

__all__ = ["Sequences", "damped_oscillators", "lotka_volterra", "sinusoids", "time_grid"]


@dataclass
class Sequences:
    """A set of sequences on one time grid.

    t: (T,) strictly increasing; x: (N, T, *obs_shape); params: (N, P) the dynamical parameters
    each sequence was drawn with (for OOD labels and the disentangling tests).
    """

    t: torch.Tensor
    x: torch.Tensor
    params: torch.Tensor

    def __post_init__(self) -> None:
        require("t.shape", tuple(self.t.shape), self.t.ndim == 1, "it must be (T,)")
        require("x.shape", tuple(self.x.shape), self.x.ndim >= 3 and self.x.shape[1] == self.t.shape[0],
                f"it must be (N, T, ...) with T = len(t) = {self.t.shape[0]}")


def time_grid(n_steps: int, dt: float) -> np.ndarray:
    """The regular grid 0, dt, ..., (n_steps-1)·dt."""
    check_int("n_steps", n_steps, low=2)
    check_real("dt", dt, low=0.0, low_open=True)
    return np.arange(n_steps, dtype=np.float64) * dt


def _uniform(rng: np.random.Generator, lo_hi: tuple[float, float], n: int, name: str) -> np.ndarray:
    lo, hi = float(lo_hi[0]), float(lo_hi[1])
    require(name, lo_hi, lo <= hi, "it must be a range (low, high) with low <= high")
    return rng.uniform(lo, hi, size=n)


def _rk4(f: Callable[[np.ndarray], np.ndarray], y0: np.ndarray, t: np.ndarray, substeps: int) -> np.ndarray:
    """Vectorised classic RK4 for an autonomous ODE; y0: (N, D) -> (N, T, D)."""
    out = np.empty((y0.shape[0], len(t), y0.shape[1]))
    out[:, 0] = y = y0
    for i in range(1, len(t)):
        h = (t[i] - t[i - 1]) / substeps
        for _ in range(substeps):
            k1 = f(y)
            k2 = f(y + 0.5 * h * k1)
            k3 = f(y + 0.5 * h * k2)
            k4 = f(y + h * k3)
            y = y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        out[:, i] = y
    return out


def _pack(t: np.ndarray, x: np.ndarray, params: np.ndarray, noise_std: float,
          rng: np.random.Generator) -> Sequences:
    check_real("noise_std", noise_std, low=0.0)
    x = x + noise_std * rng.standard_normal(x.shape)
    return Sequences(
        t=torch.as_tensor(t, dtype=torch.float32),
        x=torch.as_tensor(x, dtype=torch.float32),
        params=torch.as_tensor(params, dtype=torch.float32),
    )


def sinusoids(
    n: int,
    n_steps: int = 50,
    dt: float = 0.1,
    *,
    amplitude: tuple[float, float] = (0.5, 1.5),
    frequency: tuple[float, float] = (1.0, 2.0),
    phase: tuple[float, float] = (0.0, 2 * np.pi),
    offset: tuple[float, float] = (0.0, 0.0),
    noise_std: float = 0.05,
    seed: int = 0,
) -> Sequences:
    """x(t) = c + A·sin(ω t + φ), one channel; ``frequency`` is ω in rad per time unit.

    The offset c is the static (time-invariant) factor used by the disentangled variant.
    params: (N, 4) = (A, ω, φ, c).
    """
    rng = np.random.default_rng(seed)
    t = time_grid(n_steps, dt)
    a = _uniform(rng, amplitude, n, "amplitude")
    w = _uniform(rng, frequency, n, "frequency")
    p = _uniform(rng, phase, n, "phase")
    c = _uniform(rng, offset, n, "offset")
    x = c[:, None] + a[:, None] * np.sin(w[:, None] * t[None] + p[:, None])
    return _pack(t, x[..., None], np.stack([a, w, p, c], 1), noise_std, rng)


def damped_oscillators(
    n: int,
    n_steps: int = 50,
    dt: float = 0.1,
    *,
    frequency: tuple[float, float] = (1.0, 2.0),
    damping: tuple[float, float] = (0.05, 0.2),
    amplitude: tuple[float, float] = (0.5, 1.5),
    noise_std: float = 0.05,
    seed: int = 0,
) -> Sequences:
    """x'' = -ω² x - 2ζω x' from a random point of the circle of radius A in (x, x'/ω).

    Observes (x, x'/ω), two channels. params: (N, 3) = (ω, ζ, A).
    """
    rng = np.random.default_rng(seed)
    t = time_grid(n_steps, dt)
    w = _uniform(rng, frequency, n, "frequency")
    zeta = _uniform(rng, damping, n, "damping")
    a = _uniform(rng, amplitude, n, "amplitude")
    ang = rng.uniform(0, 2 * np.pi, n)
    y0 = np.stack([a * np.cos(ang), a * np.sin(ang) * w], 1)

    def f(y: np.ndarray) -> np.ndarray:
        return np.stack([y[:, 1], -(w**2) * y[:, 0] - 2 * zeta * w * y[:, 1]], 1)

    y = _rk4(f, y0, t, substeps=4)
    y[..., 1] /= w[:, None]
    return _pack(t, y, np.stack([w, zeta, a], 1), noise_std, rng)


def lotka_volterra(
    n: int,
    n_steps: int = 100,
    dt: float = 0.1,
    *,
    alpha: tuple[float, float] = (1.0, 1.0),
    beta: tuple[float, float] = (0.5, 0.5),
    gamma: tuple[float, float] = (1.0, 1.0),
    delta: tuple[float, float] = (0.2, 0.2),
    initial: tuple[float, float] = (1.0, 4.0),
    scale: float = 0.2,
    noise_std: float = 0.05,
    seed: int = 0,
) -> Sequences:
    """Predator-prey: u' = αu − βuv, v' = δuv − γv (MoNODE: α=1, β=0.5, γ=1, δ=0.2).

    Initial populations are uniform in ``initial``; the observation is ``scale``·(u, v) plus
    Gaussian noise (scale 0.2 keeps values O(1)). params: (N, 4) = (α, β, γ, δ).
    """
    rng = np.random.default_rng(seed)
    t = time_grid(n_steps, dt)
    al = _uniform(rng, alpha, n, "alpha")
    be = _uniform(rng, beta, n, "beta")
    ga = _uniform(rng, gamma, n, "gamma")
    de = _uniform(rng, delta, n, "delta")
    y0 = rng.uniform(initial[0], initial[1], size=(n, 2))

    def f(y: np.ndarray) -> np.ndarray:
        u, v = y[:, 0], y[:, 1]
        return np.stack([al * u - be * u * v, de * u * v - ga * v], 1)

    y = _rk4(f, y0, t, substeps=4) * scale
    return _pack(t, y, np.stack([al, be, ga, de], 1), noise_std, rng)
