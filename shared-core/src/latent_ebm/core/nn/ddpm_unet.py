"""A DDPM-style image UNet conditioned on a scalar level t (and optionally a class label).

The architecture of Ho et al. 2020 ("Denoising Diffusion Probabilistic Models", appendix B), in
the form CDRL's initializer uses (official AlvinZhuyx/CDRL ``models/unet.py``, ``Unet(dim=64)``
in ``main_uncond.py``: 3 resolutions of 64 channels, 3 blocks each, attention at 16x16 and 8x8,
dropout 0.1, residual output):

- t -> sinusoidal features of ``time_scale * t`` (``width`` of them, frequencies
  10000^(-i / (width/2 - 1))) -> Linear -> SiLU -> Linear, an embedding e of 4 ``width``;
  a class embedding is added to e when ``num_classes > 0`` (index ``num_classes``: the null label).
- a 3x3 stem conv; per resolution ``n_blocks`` residual blocks (each followed by single-scale
  self-attention at the resolutions in ``attn_resolutions``), then a residual block that halves
  the resolution (average pooling inside the block; none after the last resolution); in the
  middle block, attention, block; the mirrored up path takes ``n_blocks + 1`` blocks per
  resolution, each reading the concatenation with one skip, and a block that doubles the
  resolution (nearest); GroupNorm -> SiLU -> 3x3 conv back to the input channels.
- residual block: GroupNorm -> SiLU -> [resample] -> conv3x3 -> GroupNorm scaled and shifted by
  a projection of e, h (1 + scale) + shift -> SiLU -> dropout -> conv3x3, plus a 1x1 shortcut when
  the width changes. GroupNorm eps 1e-6. The last conv of every block, the attention output and
  the final conv start at zero weights (official code), so the UNet starts as the identity map
  with ``residual=True`` (output x + UNet(x)) and as zero otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_ebm.core.checks import as_shape, check_int, check_real, require

__all__ = ["DDPMUNet"]

_EPS = 1e-6  # GroupNorm eps of the official blocks


def _zero(module: nn.Module) -> nn.Module:
    nn.init.zeros_(module.weight)
    return module


def _sinusoid(t: Tensor, dim: int) -> Tensor:
    """(B,) -> (B, dim): [sin(t w_i), cos(t w_i)], w_i = 10000^(-i / (dim/2 - 1)), i < dim/2."""
    half = dim // 2
    w = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / max(half - 1, 1))
    arg = t.float()[:, None] * w[None]
    return torch.cat([arg.sin(), arg.cos()], dim=1)


class _ResBlock(nn.Module):
    """Pre-activation residual block with scale-shift conditioning; ``resample`` halves ("down")
    or doubles ("up") the resolution of both paths after the first activation."""

    def __init__(self, c_in: int, c_out: int, emb: int, groups: int, dropout: float,
                 resample: Literal["down", "up"] | None = None) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(groups, c_in, eps=_EPS), nn.GroupNorm(groups, c_out, eps=_EPS)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = _zero(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.film = nn.Linear(emb, 2 * c_out)  # e -> (scale, shift)
        self.drop = nn.Dropout(dropout)
        self.short = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.resample = resample

    def _resize(self, h: Tensor) -> Tensor:
        if self.resample == "down":
            return F.avg_pool2d(h, 2)
        if self.resample == "up":
            return F.interpolate(h, scale_factor=2.0, mode="nearest")
        return h

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        h = self._resize(F.silu(self.norm1(x)))
        x = self._resize(x)
        h = self.conv1(h)
        scale, shift = self.film(F.silu(e))[:, :, None, None].chunk(2, dim=1)  # (B, c_out, 1, 1) each
        h = F.silu(self.norm2(h) * (1.0 + scale) + shift)
        return self.conv2(self.drop(h)) + self.short(x)


class _Attention(nn.Module):
    """Residual multi-head self-attention over the H W positions of (B, C, H, W)."""

    def __init__(self, channels: int, heads: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=_EPS)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = _zero(nn.Conv2d(channels, channels, 1))
        self.heads = heads

    def forward(self, x: Tensor) -> Tensor:
        b, c, hgt, wid = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, hgt * wid)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # (B, heads, HW, C/heads)
        h = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(C/heads)) v
        return x + self.out(h.transpose(-1, -2).reshape(b, c, hgt, wid))


class DDPMUNet(nn.Module):
    """U(x, t, y) -> (B, C, H, W): a DDPM UNet (see the module docstring).

    Args:
        in_channels: C of the images (the output has the same).
        width: base channels; mult: per-resolution multipliers (channels ``width * m``);
            n_blocks: residual blocks per resolution on the way down (``n_blocks + 1`` up).
        attn_resolutions: side lengths (H) at which self-attention follows each block; the middle
            always has one. image_size: H = W of the inputs (it fixes where attention goes).
        dropout: in every residual block; heads: attention heads; groups: GroupNorm groups
            (must divide every width).
        num_classes: > 0 adds a class embedding with a null label ``num_classes``.
        time_scale: the sinusoid reads ``time_scale * t`` (1000 for t in [0, 1], as DDPM's steps).
        residual: output x + UNet(x, t) (official CDRL initializer) instead of UNet(x, t).

    CDRL's paper setting ``DDPMUNet(3, 64, (1, 1, 1), 3, (16, 8))`` has 3,769,795 parameters,
    the same count as the official ``Unet(dim=64)``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 64,
        mult: Sequence[int] = (1, 1, 1),
        n_blocks: int = 3,
        attn_resolutions: Sequence[int] = (16, 8),
        *,
        image_size: int = 32,
        dropout: float = 0.1,
        heads: int = 1,
        groups: int = 32,
        num_classes: int = 0,
        time_scale: float = 1000.0,
        residual: bool = True,
    ) -> None:
        super().__init__()
        for name, v in (("in_channels", in_channels), ("width", width), ("n_blocks", n_blocks),
                        ("image_size", image_size), ("heads", heads), ("groups", groups)):
            check_int(name, v, low=1)
        check_int("num_classes", num_classes, low=0)
        check_real("dropout", dropout, low=0.0, high=1.0, high_open=True)
        check_real("time_scale", time_scale)
        mult = as_shape(tuple(mult), "mult")
        attn = tuple(attn_resolutions)
        for r in attn:
            check_int("attn_resolutions", r, low=1)
        chans = [width * m for m in mult]
        require("groups", groups, all(c % groups == 0 for c in chans) and width % groups == 0,
                f"it must divide the widths {sorted({width, *chans})}")
        require("heads", heads, all(c % heads == 0 for c in chans), f"it must divide the widths {chans}")
        down = 2 ** (len(mult) - 1)
        require("image_size", image_size, image_size % down == 0,
                f"{len(mult)} resolutions halve it {len(mult) - 1} times: use a multiple of {down}")
        self.image_size, self.in_channels, self.width = image_size, in_channels, width
        self.time_scale, self.residual = float(time_scale), residual
        emb = 4 * width
        self.time_mlp = nn.Sequential(nn.Linear(width, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.classes = nn.Embedding(num_classes + 1, emb) if num_classes > 0 else None
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1)

        def block(c_in: int, c_out: int, resample: Literal["down", "up"] | None = None) -> _ResBlock:
            return _ResBlock(c_in, c_out, emb, groups, dropout, resample)

        def attend(c: int, res: int) -> nn.Module:
            return _Attention(c, heads, groups) if res in attn else nn.Identity()

        # down path: every block's output is a skip for the up path (as is the stem's)
        self.down = nn.ModuleList()
        skips, ch, res = [width], width, image_size
        for i, c in enumerate(chans):
            for _ in range(n_blocks):
                self.down.append(nn.ModuleList([block(ch, c), attend(c, res)]))
                ch = c
                skips.append(ch)
            if i < len(chans) - 1:
                self.down.append(nn.ModuleList([block(ch, ch, "down"), nn.Identity()]))
                skips.append(ch)
                res //= 2
        self.mid = nn.ModuleList([block(ch, ch), _Attention(ch, heads, groups), block(ch, ch)])
        self.up = nn.ModuleList()
        for i, c in reversed(list(enumerate(chans))):
            for _ in range(n_blocks + 1):
                self.up.append(nn.ModuleList([block(ch + skips.pop(), c), attend(c, res)]))
                ch = c
            if i > 0:
                self.up.append(nn.ModuleList([block(ch, ch, "up"), nn.Identity()]))
                res *= 2
        self.head = nn.Sequential(nn.GroupNorm(groups, ch, eps=_EPS), nn.SiLU(),
                                  _zero(nn.Conv2d(ch, in_channels, 3, padding=1)))

    def embed(self, t: Tensor, y: Tensor | None = None) -> Tensor:
        """(B,) levels (and labels; None: the null label) -> (B, 4 width) conditioning e."""
        e = self.time_mlp(_sinusoid(self.time_scale * t, self.width))
        if self.classes is not None:
            if y is None:
                y = torch.full(t.shape, self.classes.num_embeddings - 1, dtype=torch.long, device=t.device)
            e = e + self.classes(y)
        return e

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        """x (B, C, H, W), t (B,), y (B,) labels or None -> (B, C, H, W)."""
        want = (self.in_channels, self.image_size, self.image_size)
        require("x.shape", tuple(x.shape), x.dim() == 4 and tuple(x.shape[1:]) == want,
                f"this UNet expects (B, {', '.join(map(str, want))})")
        require("t.shape", tuple(t.shape), tuple(t.shape) == (x.shape[0],), f"it must be ({x.shape[0]},)")
        e = self.embed(t, y)
        h = self.stem(x)
        hs = [h]
        for blk, att in self.down:
            h = att(blk(h, e))
            hs.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, e)), e)
        for blk, att in self.up:
            inp = h if blk.resample == "up" else torch.cat([h, hs.pop()], dim=1)
            h = att(blk(inp, e))
        out = self.head(h)
        return x + out if self.residual else out
