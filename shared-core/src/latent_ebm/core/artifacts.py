"""Files a person looks at, written by ``predict`` and by benchmarks: image grids, 2-d scatters, text,
tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from latent_ebm.core.checks import check_int, not_allowed

__all__ = ["image_grid", "save_image_grid", "save_scatter", "write_table"]


def image_grid(images: Tensor, *, nrow: int | None = None, value_range: tuple[float, float] = (-1.0, 1.0),
               pad: int = 2) -> Tensor:
    """(N, C, H, W) images (C = 1 or 3) -> one uint8 (H', W', C) grid, ``nrow`` per row (default
    about sqrt(N)), values clipped to ``value_range`` and mapped to 0..255, white padding."""
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] not in (1, 3) or len(images) == 0:
        got = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise not_allowed("images", got, "it must be a tensor (N, C, H, W) with N >= 1 and C = 1 or 3")
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    check_int("nrow", nrow, low=1)
    lo, hi = value_range
    x = ((images.detach().float().cpu().clamp(lo, hi) - lo) / (hi - lo) * 255).round().to(torch.uint8)
    rows = math.ceil(n / nrow)
    grid = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, k = divmod(i, nrow)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = x[i]
    return grid.permute(1, 2, 0)


def save_image_grid(images: Tensor, path: str | Path, **kw) -> Path:
    """Write :func:`image_grid` of ``images`` as a PNG at ``path``; returns the path."""
    from PIL import Image

    grid = image_grid(images, **kw).numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(path)
    return path


def write_table(rows: Sequence[dict[str, object]], path: str | Path) -> Path:
    """Rows of one dict each as a tab-separated file with a header (the first row's keys)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0]) if rows else []
    lines = ["\t".join(keys)] + ["\t".join(str(r.get(k, "")) for k in keys) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def save_scatter(points: Tensor, path: str | Path, *, size: int = 400, box: float | None = None) -> Path:
    """A scatter of the finite 2-d ``points`` (N, 2) as a PNG (Pillow): dark dots on white, axes
    through the origin in grey, the square window [-box, box]² (default: symmetric about 0, holding
    every finite point), its extent and point count written in a corner."""
    from PIL import Image, ImageDraw

    if not isinstance(points, Tensor) or points.dim() != 2 or points.shape[1] != 2:
        got = tuple(points.shape) if isinstance(points, Tensor) else type(points).__name__
        raise not_allowed("points", got, "it must be a tensor (N, 2)")
    check_int("size", size, low=16)
    pts = points.detach().double().cpu()
    pts = pts[torch.isfinite(pts).all(1)]
    lim = box or (max(1.0, float(pts.abs().max()) * 1.05) if len(pts) else 1.0)
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    mid = (size - 1) / 2
    draw.line([(0, mid), (size - 1, mid)], fill=(200, 200, 200))
    draw.line([(mid, 0), (mid, size - 1)], fill=(200, 200, 200))
    draw.text((4, 4), f"x0, x1 in [{-lim:.3g}, {lim:.3g}]; {len(pts)} points", fill=(90, 90, 90))
    scale = (size - 1) / (2 * lim)
    for a, b in pts.tolist():
        u, v = (a + lim) * scale, (lim - b) * scale
        draw.ellipse([u - 1.5, v - 1.5, u + 1.5, v + 1.5], fill=(31, 64, 160))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
