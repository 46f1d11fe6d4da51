"""Video sequences generated locally: bouncing balls and rotating MNIST (or rotating shapes).

Frames are (N, T, 1, H, W) in [0, 1]. Both are deterministic given ``seed``; the dynamical
parameter (ball speed, angular velocity) takes a range so that a changed-dynamics test set is
the same call with a range outside the training one.
"""

from __future__ import annotations

import gzip
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from latent_ebm.core.checks import check_choice, check_int
from latent_ebm.core.data import DatasetUnavailableError, get_file
from latent_ebm.ode_lebm.systems import Sequences, time_grid

__all__ = ["bouncing_balls", "load_mnist_digits", "rotating_images", "shape_images"]


def bouncing_balls(
    n: int,
    n_steps: int = 20,
    dt: float = 1.0,
    *,
    size: int = 16,
    n_balls: int = 1,
    radius: float = 1.6,
    speed: tuple[float, float] = (0.5, 1.0),
    seed: int = 0,
) -> Sequences:
    """Balls moving at constant speed in a [0, size]² box with elastic walls, drawn as
    Gaussian blobs of width ``radius`` pixels. Balls do not collide with each other.

    ``speed`` is in pixels per time unit (times 0, dt, 2dt, ...). params: (N, 1) = mean speed.
    """
    check_int("size", size, low=8)
    check_int("n_balls", n_balls, low=1)
    rng = np.random.default_rng(seed)
    t = time_grid(n_steps, dt)
    lo, hi = radius, size - radius
    pos = rng.uniform(lo, hi, size=(n, n_balls, 2))
    sp = rng.uniform(speed[0], speed[1], size=(n, n_balls))
    ang = rng.uniform(0, 2 * np.pi, size=(n, n_balls))
    # Unfold the reflections: position on a line of period 2L, folded back into [lo, hi].
    length = hi - lo
    vel = np.stack([np.cos(ang), np.sin(ang)], -1) * sp[..., None]
    free = pos[None] - lo + vel[None] * t[:, None, None, None]  # (T, N, K, 2)
    folded = np.mod(free, 2 * length)
    folded = np.where(folded > length, 2 * length - folded, folded) + lo
    grid = np.arange(size) + 0.5
    gy = np.exp(-((grid[None, None, None, :] - folded[..., 1:2]) ** 2) / (2 * radius**2))
    gx = np.exp(-((grid[None, None, None, :] - folded[..., 0:1]) ** 2) / (2 * radius**2))
    frames = np.einsum("tnky,tnkx->ntyx", gy, gx).clip(0, 1)[:, :, None]  # (N, T, 1, H, W)
    return Sequences(
        t=torch.as_tensor(t, dtype=torch.float32),
        x=torch.as_tensor(frames, dtype=torch.float32),
        params=torch.as_tensor(sp.mean(1, keepdims=True), dtype=torch.float32),
    )


def load_mnist_digits(digit: int | None = 3, *, max_images: int = 2000) -> torch.Tensor | None:
    """MNIST training images (K, 28, 28) in [0, 1] through ``latent_ebm.core.data.get_file``
    (dataset ``mnist``); None when the file is not cached and cannot be downloaded."""
    try:
        images = get_file("mnist", "train-images-idx3-ubyte.gz")
        labels = get_file("mnist", "train-labels-idx1-ubyte.gz")
    except DatasetUnavailableError as err:  # offline: fall back to generated shapes
        warnings.warn(f"MNIST unavailable ({err}); using generated shapes", stacklevel=2)
        return None
    with gzip.open(images) as fh:
        img = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(labels) as fh:
        lab = np.frombuffer(fh.read(), np.uint8, offset=8)
    if digit is not None:
        img = img[lab == digit]
    return torch.as_tensor(img[:max_images].astype(np.float32) / 255.0)


def shape_images(k: int, size: int = 28, *, seed: int = 0) -> torch.Tensor:
    """Offline fallback for MNIST: (k, size, size) asymmetric 'L'-like strokes of random
    thickness and arm lengths, so that a rotation is visible."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1
    out = np.zeros((k, size, size), np.float32)
    for i in range(k):
        w = rng.uniform(0.08, 0.16)
        a, b = rng.uniform(0.3, 0.7, size=2)
        vert = (np.abs(xx + 0.2) < w) & (yy > -a) & (yy < 0.5)
        horiz = (np.abs(yy - 0.5) < w) & (xx > -0.2) & (xx < -0.2 + b)
        out[i] = (vert | horiz).astype(np.float32)
    return torch.as_tensor(out)


def rotating_images(
    n: int,
    n_steps: int = 16,
    dt: float = 1.0,
    *,
    size: int = 28,
    angular_velocity: tuple[float, float] = (2 * math.pi / 16, 2 * math.pi / 16),
    source: str = "mnist",
    digit: int | None = 3,
    seed: int = 0,
) -> Sequences:
    """Rotating MNIST (Yildiz et al. 2019; Casale et al. 2018): an image turned by
    θ0 + ω·t, θ0 uniform, ω in ``angular_velocity`` (default one turn in 16 frames).

    ``source``: "mnist" (falls back to generated shapes offline) or "shapes".
    params: (N, 2) = (ω, θ0).
    """
    check_choice("source", source, ("mnist", "shapes"))
    rng = np.random.default_rng(seed)
    t = time_grid(n_steps, dt)
    pool = load_mnist_digits(digit) if source == "mnist" else None
    if pool is None:
        pool = shape_images(64, 28, seed=seed)
    idx = torch.as_tensor(rng.integers(0, pool.shape[0], size=n))
    w = rng.uniform(angular_velocity[0], angular_velocity[1], size=n)
    th0 = rng.uniform(0, 2 * np.pi, size=n)
    theta = torch.as_tensor(th0[:, None] + w[:, None] * t[None], dtype=torch.float32)  # (N, T)
    cos, sin = theta.cos(), theta.sin()
    zeros = torch.zeros_like(cos)
    affine = torch.stack([torch.stack([cos, -sin, zeros], -1), torch.stack([sin, cos, zeros], -1)], -2)
    img = pool[idx][:, None].expand(n, n_steps, 28, 28).reshape(n * n_steps, 1, 28, 28)
    if size != 28:
        img = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)
    grid = F.affine_grid(affine.reshape(-1, 2, 3), [n * n_steps, 1, size, size], align_corners=False)
    frames = F.grid_sample(img, grid, align_corners=False).clamp(0, 1)
    return Sequences(
        t=torch.as_tensor(t, dtype=torch.float32),
        x=frames.reshape(n, n_steps, 1, size, size),
        params=torch.as_tensor(np.stack([w, th0], 1), dtype=torch.float32),
    )
