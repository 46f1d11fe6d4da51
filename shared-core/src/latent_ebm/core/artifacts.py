"""Files a person looks at, written by ``predict`` and by benchmarks: image grids, text, tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from latent_ebm.core.checks import check_int, not_allowed

__all__ = ["image_grid", "save_image_grid", "write_table"]


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
