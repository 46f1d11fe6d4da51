"""Differentiable volume rendering (Mildenhall et al., NeRF, ECCV 2020, eq. 3), written here.

Conventions (nerf-pytorch's, which the official NeRF-LEBM code uses):
    camera     OpenGL: x right, y up, the camera looks along -z; a pose is camera-to-world (4, 4)
    pixels     rays through pixel corners (i, j) with the principal point at (W/2, H/2)
    samples    stratified between ``near`` and ``far`` along the ray parameter t (o + t d)
    compositing  alpha_i = 1 - exp(-sigma_i delta_i), T_i = prod_{j<i} (1 - alpha_j),
               C = sum_i T_i alpha_i c_i + (1 - sum_i T_i alpha_i) * background; the last interval
               is 1e10 (every ray ends opaque inside the volume, as in nerf-pytorch)
Pose conversions go through ``kornia.geometry.conversions`` (OpenGL <-> OpenCV).
"""

from __future__ import annotations

import math

import torch

try:  # kornia >= 0.8.3 (kornia.utils' copy is deprecated there)
    from kornia.geometry import create_meshgrid
except ImportError:  # pragma: no cover - older kornia
    from kornia.utils import create_meshgrid
from kornia.geometry.conversions import (
    camtoworld_graphics_to_vision_4x4,
    camtoworld_vision_to_graphics_4x4,
)
from torch import Tensor

from latent_ebm.core.checks import check_int, require

__all__ = [
    "composite",
    "focal_from_fov",
    "look_at_pose",
    "opengl_to_opencv",
    "opencv_to_opengl",
    "pixel_grid",
    "rays_from_pixels",
    "sample_pdf",
    "stratified_depths",
]

LAST_INTERVAL = 1e10


def focal_from_fov(size: int, fov_deg: float) -> float:
    """Focal length in pixels of a square image of ``size`` with horizontal field of view ``fov_deg``."""
    return 0.5 * size / math.tan(0.5 * math.radians(fov_deg))


def look_at_pose(azimuth: Tensor, elevation: Tensor, radius: float | Tensor) -> Tensor:
    """Camera-to-world OpenGL poses (B, 4, 4) of cameras on a sphere looking at the origin.

    World is y-up; the camera centre is r (cos el sin az, sin el, cos el cos az) (angles in radians),
    its -z axis points at the origin and its x axis stays horizontal. Differentiable in the angles.
    """
    az, el = torch.as_tensor(azimuth), torch.as_tensor(elevation)
    az, el = torch.broadcast_tensors(az.reshape(-1), el.reshape(-1))
    back = torch.stack([el.cos() * az.sin(), el.sin(), el.cos() * az.cos()], -1)  # camera +z, (B, 3)
    right = torch.stack([az.cos(), torch.zeros_like(az), -az.sin()], -1)  # up_world x back, normalised
    up = torch.linalg.cross(back, right)
    pose = torch.zeros(az.shape[0], 4, 4, dtype=back.dtype, device=back.device)
    pose[:, :3, 0], pose[:, :3, 1], pose[:, :3, 2] = right, up, back
    pose[:, :3, 3] = back * torch.as_tensor(radius, dtype=back.dtype, device=back.device).reshape(-1, 1)
    pose[:, 3, 3] = 1.0
    return pose


def opengl_to_opencv(c2w: Tensor) -> Tensor:
    """OpenGL (graphics) camera-to-world (B, 4, 4) -> OpenCV (vision) camera-to-world (kornia)."""
    return camtoworld_graphics_to_vision_4x4(c2w)


def opencv_to_opengl(c2w: Tensor) -> Tensor:
    """OpenCV camera-to-world (B, 4, 4) -> OpenGL camera-to-world (kornia)."""
    return camtoworld_vision_to_graphics_4x4(c2w)


def pixel_grid(height: int, width: int, *, device=None, dtype=torch.float32) -> Tensor:
    """Pixel coordinates (H * W, 2) as (i = column, j = row), row-major (kornia ``create_meshgrid``)."""
    check_int("height", height, low=1)
    check_int("width", width, low=1)
    grid = create_meshgrid(height, width, normalized_coordinates=False, device=device, dtype=dtype)
    return grid.reshape(-1, 2)


def rays_from_pixels(c2w: Tensor, pix: Tensor, focal: float, height: int, width: int) -> tuple[Tensor, Tensor]:
    """Ray origins and directions (B, R, 3) in world coordinates for pixels ``pix`` (B, R, 2) or (R, 2)
    of OpenGL cameras ``c2w`` (B, 4, 4): d_cam = ((i - W/2) / f, -(j - H/2) / f, -1), d = R d_cam
    (not normalised: t is depth along the camera axis, as in nerf-pytorch), o = camera centre."""
    require("c2w", tuple(c2w.shape), c2w.dim() == 3 and c2w.shape[1:] == (4, 4), "it must be (B, 4, 4)")
    if pix.dim() == 2:
        pix = pix.expand(c2w.shape[0], *pix.shape)
    i, j = pix.unbind(-1)
    d_cam = torch.stack([(i - 0.5 * width) / focal, -(j - 0.5 * height) / focal, -torch.ones_like(i)], -1)
    d = torch.einsum("brc,bkc->brk", d_cam.to(c2w), c2w[:, :3, :3])
    o = c2w[:, None, :3, 3].expand_as(d)
    return o, d


def stratified_depths(shape: tuple[int, ...], n_samples: int, near: float, far: float, *,
                      perturb: bool = True, generator: torch.Generator | None = None,
                      device=None, dtype=torch.float32) -> Tensor:
    """t (*shape, n_samples): one sample per equal bin of [near, far], uniform within its bin when
    ``perturb`` (stratified sampling, NeRF eq. 2), else at the bin's left edge (nerf-pytorch's
    ``linspace`` with ``perturb=0``)."""
    check_int("n_samples", n_samples, low=1)
    require("far", far, far > near, f"it must exceed near={near}")
    edges = torch.linspace(near, far, n_samples + 1, device=device, dtype=dtype)[:-1]
    width = (far - near) / n_samples
    if perturb:
        u = torch.rand(*shape, n_samples, generator=generator, dtype=dtype)
        return edges + width * u.to(device)
    return edges.expand(*shape, n_samples).clone()


def composite(sigma: Tensor, rgb: Tensor, t: Tensor, d: Tensor, background: float | Tensor = 0.0
              ) -> dict[str, Tensor]:
    """Alpha compositing of densities ``sigma`` (..., S) and colours ``rgb`` (..., S, 3) at depths
    ``t`` (..., S) along rays with directions ``d`` (..., 3).

    Returns ``rgb`` (..., 3), ``acc`` (..., 1 - final transmittance), ``depth`` (...) and
    ``weights`` (..., S) = T_i alpha_i. Intervals are delta_i = (t_{i+1} - t_i) |d|, the last 1e10.
    """
    delta = torch.cat([t[..., 1:] - t[..., :-1], torch.full_like(t[..., :1], LAST_INTERVAL)], -1)
    delta = delta * d.norm(dim=-1, keepdim=True)
    alpha = 1.0 - torch.exp(-sigma * delta)
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[..., :1]), 1.0 - alpha + 1e-10], -1), -1)[..., :-1]
    weights = alpha * trans
    acc = weights.sum(-1)
    colour = (weights[..., None] * rgb).sum(-2) + (1.0 - acc[..., None]) * background
    return {"rgb": colour, "acc": acc, "depth": (weights * t).sum(-1), "weights": weights}


def sample_pdf(bins: Tensor, weights: Tensor, n_samples: int, *, perturb: bool = True,
               generator: torch.Generator | None = None) -> Tensor:
    """Hierarchical sampling (NeRF sec. 5.2): ``n_samples`` depths (..., n) drawn by inverse CDF from
    the piecewise-constant pdf of ``weights`` (..., M - 1) over bin edges ``bins`` (..., M). Detached."""
    weights = weights.detach() + 1e-5
    pdf = weights / weights.sum(-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[..., :1]), torch.cumsum(pdf, -1)], -1)  # (..., M)
    shape = (*cdf.shape[:-1], n_samples)
    if perturb:
        u = torch.rand(shape, generator=generator, dtype=cdf.dtype).to(cdf.device)
    else:
        u = torch.linspace(0.0, 1.0, n_samples, dtype=cdf.dtype, device=cdf.device).expand(shape).contiguous()
    idx = torch.searchsorted(cdf.contiguous(), u, right=True)
    lo, hi = (idx - 1).clamp(0, cdf.shape[-1] - 1), idx.clamp(0, cdf.shape[-1] - 1)
    c_lo, c_hi = cdf.gather(-1, lo), cdf.gather(-1, hi)
    b_lo, b_hi = bins.detach().gather(-1, lo), bins.detach().gather(-1, hi)
    frac = torch.where(c_hi - c_lo < 1e-5, torch.zeros_like(u), (u - c_lo) / (c_hi - c_lo).clamp_min(1e-5))
    return b_lo + frac * (b_hi - b_lo)
