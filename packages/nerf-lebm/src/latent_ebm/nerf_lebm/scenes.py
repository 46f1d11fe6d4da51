"""The offline procedural multi-view data: one object per scene at the origin, rendered by exact
ray-primitive intersection with Lambert shading (independent of the model's volume renderer).

Objects: sphere (radius), axis-aligned box (three half-extents), y-axis cylinder (radius, half
height); a colour from a small palette plus jitter, so shape class and colour are discrete factors
with continuous spread around them (multi-modal, where an EBM prior can beat N(0, I)). Cameras:
Carla-like (radius 10, field of view 30 degrees, look at the origin, azimuth U(-180, 180),
elevation U(10, 60) degrees); black background, as in the official code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .render import focal_from_fov, look_at_pose, pixel_grid, rays_from_pixels

__all__ = ["PALETTE", "SHAPES", "Scenes", "make_scenes", "raytrace"]

SHAPES = ("sphere", "box", "cylinder")
PALETTE = torch.tensor([[0.9, 0.2, 0.2], [0.2, 0.8, 0.3], [0.25, 0.35, 0.95], [0.95, 0.85, 0.2]])
LIGHT = torch.tensor([0.4, 0.8, 0.45]) / math.sqrt(0.4**2 + 0.8**2 + 0.45**2)
AMBIENT = 0.3
RADIUS, FOV_DEG = 10.0, 30.0
ELEVATION_DEG = (10.0, 60.0)


@dataclass
class Scenes:
    """Rendered scenes: ``images`` (N, V, 3, H, W) in [0, 1], ``poses`` (N, V, 4, 4) OpenGL c2w,
    ``angles`` (N, V, 2) (azimuth, elevation) in radians, ``shape`` (N,) class, ``colour`` (N,)
    palette index, ``params`` (N, 3) size parameters, ``albedo`` (N, 3)."""

    images: Tensor
    poses: Tensor
    angles: Tensor
    shape: Tensor
    colour: Tensor
    params: Tensor
    albedo: Tensor


def _hit_sphere(o: Tensor, d: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    """(t, normal) of the first hit of rays o + t d (R, 3) with a sphere of radius p[0]; t = inf on a miss."""
    a, b, c = (d * d).sum(-1), 2 * (o * d).sum(-1), (o * o).sum(-1) - p[0] ** 2
    disc = b * b - 4 * a * c
    t = torch.where(disc >= 0, (-b - disc.clamp_min(0).sqrt()) / (2 * a), torch.full_like(a, math.inf))
    t = torch.where(t > 0, t, torch.full_like(t, math.inf))
    return t, o + t[:, None].nan_to_num(posinf=0.0) * d


def _hit_box(o: Tensor, d: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    """Slab method for the box |x_k| <= p[k]; normals along the axis of the entering slab."""
    inv = 1.0 / torch.where(d.abs() < 1e-12, torch.full_like(d, 1e-12), d)
    t1, t2 = (-p - o) * inv, (p - o) * inv
    tmin, tmax = torch.minimum(t1, t2), torch.maximum(t1, t2)
    t_in, axis = tmin.max(-1)
    t_out = tmax.min(-1).values
    hit = (t_in <= t_out) & (t_in > 0)
    t = torch.where(hit, t_in, torch.full_like(t_in, math.inf))
    n = torch.zeros_like(o)
    n.scatter_(1, axis[:, None], -torch.sign(d.gather(1, axis[:, None])))
    return t, n


def _hit_cylinder(o: Tensor, d: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    """A y-axis cylinder of radius p[0] and half height p[1], capped."""
    r, h = p[0], p[1]
    a = d[:, 0] ** 2 + d[:, 2] ** 2
    b = 2 * (o[:, 0] * d[:, 0] + o[:, 2] * d[:, 2])
    c = o[:, 0] ** 2 + o[:, 2] ** 2 - r**2
    disc = b * b - 4 * a * c
    t_side = (-b - disc.clamp_min(0).sqrt()) / (2 * a.clamp_min(1e-12))
    y = o[:, 1] + t_side * d[:, 1]
    ok = (disc >= 0) & (t_side > 0) & (y.abs() <= h)
    t_side = torch.where(ok, t_side, torch.full_like(t_side, math.inf))
    dy = torch.where(d[:, 1].abs() < 1e-12, torch.full_like(d[:, 1], 1e-12), d[:, 1])
    cap_y = -torch.sign(dy) * h  # the cap facing the ray
    t_cap = (cap_y - o[:, 1]) / dy
    pc = o + t_cap[:, None] * d
    ok = (t_cap > 0) & (pc[:, 0] ** 2 + pc[:, 2] ** 2 <= r**2)
    t_cap = torch.where(ok, t_cap, torch.full_like(t_cap, math.inf))
    t = torch.minimum(t_side, t_cap)
    ps = o + t_side.nan_to_num(posinf=0.0)[:, None] * d
    n_side = torch.stack([ps[:, 0], torch.zeros_like(ps[:, 0]), ps[:, 2]], -1) / r
    n_cap = torch.stack([torch.zeros_like(cap_y), torch.sign(cap_y), torch.zeros_like(cap_y)], -1)
    return t, torch.where((t_cap < t_side)[:, None], n_cap, n_side)


_HIT = {0: _hit_sphere, 1: _hit_box, 2: _hit_cylinder}


def raytrace(shape: int, params: Tensor, albedo: Tensor, c2w: Tensor, size: int, fov_deg: float = FOV_DEG
             ) -> Tensor:
    """Exact render (V, 3, size, size) in [0, 1] of one object under cameras c2w (V, 4, 4):
    albedo * (ambient + (1 - ambient) max(0, n . light)) where a ray hits, black elsewhere."""
    pix = pixel_grid(size, size, dtype=c2w.dtype)  # the model's camera convention (pixel corners)
    o, d = rays_from_pixels(c2w, pix, focal_from_fov(size, fov_deg), size, size)
    v = c2w.shape[0]
    o, d = o.reshape(-1, 3), d.reshape(-1, 3)
    t, n = _HIT[int(shape)](o, d, params)
    n = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    shade = AMBIENT + (1 - AMBIENT) * (n @ LIGHT.to(n)).clamp_min(0)
    rgb = torch.where(torch.isfinite(t)[:, None], shade[:, None] * albedo.to(n), torch.zeros_like(o))
    return rgb.reshape(v, size, size, 3).permute(0, 3, 1, 2).clamp(0, 1)


def random_angles(n: int, generator: torch.Generator) -> Tensor:
    """(n, 2) (azimuth U(-pi, pi), elevation U(10, 60) degrees) in radians."""
    az = (torch.rand(n, generator=generator) * 2 - 1) * math.pi
    lo, hi = (math.radians(a) for a in ELEVATION_DEG)
    el = lo + (hi - lo) * torch.rand(n, generator=generator)
    return torch.stack([az, el], -1)


def make_scenes(n: int, views: int, size: int, *, seed: int = 0, jitter: float = 0.05) -> Scenes:
    """``n`` objects, each rendered from ``views`` random cameras at ``size`` x ``size``; deterministic in seed."""
    g = torch.Generator().manual_seed(seed)
    shape = torch.randint(0, len(SHAPES), (n,), generator=g)
    colour = torch.randint(0, len(PALETTE), (n,), generator=g)
    u = torch.rand(n, 3, generator=g)
    # sphere: radius 1.0-1.8; box: half extents 0.7-1.4; cylinder: radius 0.7-1.3, half height 0.8-1.5
    params = torch.where(shape[:, None] == 0, 1.0 + 0.8 * u,
                         torch.where(shape[:, None] == 1, 0.7 + 0.7 * u, torch.stack([0.7 + 0.6 * u[:, 0],
                                                                                       0.8 + 0.7 * u[:, 1],
                                                                                       u[:, 2]], -1)))
    albedo = (PALETTE[colour] + jitter * torch.randn(n, 3, generator=g)).clamp(0.05, 1.0)
    angles = random_angles(n * views, g).reshape(n, views, 2)
    poses = look_at_pose(angles[..., 0].reshape(-1), angles[..., 1].reshape(-1), RADIUS).reshape(n, views, 4, 4)
    images = torch.stack([raytrace(int(shape[i]), params[i], albedo[i], poses[i], size) for i in range(n)])
    return Scenes(images, poses, angles, shape, colour, params, albedo)
