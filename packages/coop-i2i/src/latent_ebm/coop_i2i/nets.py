"""The four networks of the multi-domain cooperative translator (arXiv 2306.14448; layouts after
StarGAN v2's ``core/model.py``, clovaai/stargan-v2 @875b70a, which the paper's supplement matches
in style size 64, mapping input 16 and width 512; see ``shared/papers/coop-i2i.md``).

Every image net is built for its largest resolution and can run at any smaller power of two
(progressive growth): level i works at ``size / 2**i`` with ``min(base * 2**i, max_dim)`` channels
(the supplement's per-level widths, read as min); a ``from_rgb[i]`` (encoders) or ``to_rgb[i]``
(decoder) per level lets a stage at resolution r enter or leave at level log2(size / r). The
fade-in between stages could not be read ([UNK]); stages switch hard.

- :class:`Descriptor`: f_theta(x) (B, K), one score (negative energy) per domain head over a
  shared trunk of residual down-blocks, no normalisation (CoopNets' descriptors have none).
- :class:`Translator`: G(x, s), an encoder of instance-normalised residual down-blocks, bottleneck
  blocks, and a decoder of AdaIN residual up-blocks driven by the style code s.
- :class:`StyleEncoder`: E(x) (B, K, S), a trunk and one linear head per domain.
- :class:`StyleGenerator`: M(z) (B, K, S), an MLP with shared layers and one head per domain; not
  grown (the supplement says so).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_ebm.core.checks import check_int, require

__all__ = ["OUT_NORMS", "SKIPS", "AdaIN", "Descriptor", "HighPass", "StyleEncoder", "StyleGenerator", "Translator", "level_of",
           "widths"]

SKIPS = ("none", "unet", "hpf", "residual")
OUT_NORMS = ("in", "adain", "none")


def widths(size: int, min_size: int, base: int, max_dim: int) -> list[int]:
    """Channels at levels 0..L (resolution size / 2**i down to min_size): min(base * 2**i, max_dim)."""
    n = int(math.log2(size // min_size))
    return [min(base * 2**i, max_dim) for i in range(n + 1)]


def level_of(size: int, resolution: int) -> int:
    """The level a stage at ``resolution`` enters at (log2(size / resolution)); checked."""
    ok = resolution <= size and size % resolution == 0 and (size // resolution) & (size // resolution - 1) == 0
    require("resolution", resolution, ok, f"it must be the net's size {size} divided by a power of 2")
    return int(math.log2(size // resolution))


def _check_size(size: int, min_size: int) -> None:
    check_int("image_size", size, low=min_size)
    require("image_size", size, size & (size - 1) == 0, "it must be a power of 2")


class ResBlk(nn.Module):
    """Pre-activation residual block, optional instance norm and 2x average-pool downsampling
    (StarGAN v2's ``ResBlk``); output scaled by 1/sqrt(2)."""

    def __init__(self, din: int, dout: int, *, normalize: bool = False, downsample: bool = False) -> None:
        super().__init__()
        self.normalize, self.downsample = normalize, downsample
        self.conv1 = nn.Conv2d(din, din, 3, 1, 1)
        self.conv2 = nn.Conv2d(din, dout, 3, 1, 1)
        if normalize:
            self.norm1 = nn.InstanceNorm2d(din, affine=True)
            self.norm2 = nn.InstanceNorm2d(din, affine=True)
        self.skip = nn.Conv2d(din, dout, 1, 1, 0, bias=False) if din != dout else None

    def _residual(self, x: Tensor) -> Tensor:
        if self.normalize:
            x = self.norm1(x)
        x = self.conv1(F.leaky_relu(x, 0.2))
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        if self.normalize:
            x = self.norm2(x)
        return self.conv2(F.leaky_relu(x, 0.2))

    def forward(self, x: Tensor) -> Tensor:
        s = x if self.skip is None else self.skip(x)
        if self.downsample:
            s = F.avg_pool2d(s, 2)
        return (s + self._residual(x)) / math.sqrt(2)


class AdaIN(nn.Module):
    """Adaptive instance norm: (1 + gamma(s)) * IN(x) + beta(s) (Huang & Belongie 2017; StarGAN v2)."""

    def __init__(self, style_dim: int, channels: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.fc = nn.Linear(style_dim, 2 * channels)

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        gamma, beta = self.fc(s)[:, :, None, None].chunk(2, dim=1)
        return (1 + gamma) * self.norm(x) + beta


class AdainResBlk(nn.Module):
    """Residual block with AdaIN and optional nearest 2x upsampling (StarGAN v2's ``AdainResBlk``)."""

    def __init__(self, din: int, dout: int, style_dim: int, *, upsample: bool = False) -> None:
        super().__init__()
        self.upsample = upsample
        self.conv1 = nn.Conv2d(din, dout, 3, 1, 1)
        self.conv2 = nn.Conv2d(dout, dout, 3, 1, 1)
        self.norm1, self.norm2 = AdaIN(style_dim, din), AdaIN(style_dim, dout)
        self.skip = nn.Conv2d(din, dout, 1, 1, 0, bias=False) if din != dout else None

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        h = F.leaky_relu(self.norm1(x, s), 0.2)
        if self.upsample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        h = self.conv2(F.leaky_relu(self.norm2(self.conv1(h), s), 0.2))
        skip = x if self.skip is None else self.skip(x)
        return (skip + h) / math.sqrt(2)


class HighPass(nn.Module):
    """Depthwise 3x3 high-pass filter [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]] / w_hpf (StarGAN
    v2's ``HighPass``, used on its face translator's encoder-to-decoder skips): keeps edges (the
    content's layout), drops a feature map's constant part (colour, background level). Padded by
    replication, where StarGAN v2 zero-pads: with zeros a constant map gives 3c on the border and
    5c in the corners, a frame that matters at 16x16 (a 256x256 image hardly sees it)."""

    def __init__(self, w_hpf: float = 1.0) -> None:
        super().__init__()
        k = -torch.ones(3, 3)
        k[1, 1] = 8.0
        self.register_buffer("kernel", k / w_hpf, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        w = self.kernel[None, None].expand(x.shape[1], 1, 3, 3).to(x)
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), w, groups=x.shape[1])


class _Trunk(nn.Module):
    """Levels of down-blocks from ``size`` to 4x4 with a from-RGB conv per level, then
    LeakyReLU, a 4x4 conv to one vector and LeakyReLU: (B, C, r, r) -> (B, D)."""

    def __init__(self, channels: int, size: int, base: int, max_dim: int) -> None:
        super().__init__()
        _check_size(size, 4)
        self.size = size
        w = widths(size, 4, base, max_dim)
        self.from_rgb = nn.ModuleList(nn.Conv2d(channels, w[i], 3, 1, 1) for i in range(len(w)))
        self.down = nn.ModuleList(ResBlk(w[i], w[i + 1], downsample=True) for i in range(len(w) - 1))
        self.out_dim = w[-1]
        self.head = nn.Conv2d(w[-1], w[-1], 4, 1, 0)

    def forward(self, x: Tensor) -> Tensor:
        i0 = level_of(self.size, x.shape[-1])
        h = self.from_rgb[i0](x)
        for blk in self.down[i0:]:
            h = blk(h)
        return F.leaky_relu(self.head(F.leaky_relu(h, 0.2)), 0.2).flatten(1)


class Descriptor(nn.Module):
    """f_theta(x): (B, C, r, r) -> (B, K) scores, head k scoring domain k (StarGAN v2's
    discriminator layout: shared trunk, a last 1x1 layer with K outputs)."""

    def __init__(self, channels: int = 3, size: int = 32, n_domains: int = 3, base: int = 32,
                 max_dim: int = 256) -> None:
        super().__init__()
        check_int("n_domains", n_domains, low=1)
        self.trunk = _Trunk(channels, size, base, max_dim)
        self.heads = nn.Linear(self.trunk.out_dim, n_domains)

    def forward(self, x: Tensor) -> Tensor:
        return self.heads(self.trunk(x))


class StyleEncoder(nn.Module):
    """E(x): (B, C, r, r) -> (B, K, S), one linear head per domain over a shared trunk."""

    def __init__(self, channels: int = 3, size: int = 32, n_domains: int = 3, style_dim: int = 64,
                 base: int = 32, max_dim: int = 256) -> None:
        super().__init__()
        self.trunk = _Trunk(channels, size, base, max_dim)
        self.heads = nn.ModuleList(nn.Linear(self.trunk.out_dim, style_dim) for _ in range(n_domains))

    def forward(self, x: Tensor) -> Tensor:
        h = self.trunk(x)
        return torch.stack([head(h) for head in self.heads], dim=1)


class StyleGenerator(nn.Module):
    """M(z): (B, latent_dim) -> (B, K, S): ``n_shared`` Linear+ReLU layers of width ``hidden``, then
    per domain ``n_head - 1`` more and a linear map to S (StarGAN v2's mapping network: 16 -> 512,
    4 shared, heads 512 -> 512 -> 512 -> 512 -> 64)."""

    def __init__(self, latent_dim: int = 16, style_dim: int = 64, n_domains: int = 3, hidden: int = 512,
                 n_shared: int = 4, n_head: int = 4) -> None:
        super().__init__()
        check_int("n_shared", n_shared, low=1)
        check_int("n_head", n_head, low=1)
        layers: list[nn.Module] = []
        for i in range(n_shared):
            layers += [nn.Linear(latent_dim if i == 0 else hidden, hidden), nn.ReLU()]
        self.shared = nn.Sequential(*layers)

        def head() -> nn.Sequential:
            mid: list[nn.Module] = []
            for _ in range(n_head - 1):
                mid += [nn.Linear(hidden, hidden), nn.ReLU()]
            return nn.Sequential(*mid, nn.Linear(hidden, style_dim))

        self.heads = nn.ModuleList(head() for _ in range(n_domains))

    def forward(self, z: Tensor) -> Tensor:
        h = self.shared(z)
        return torch.stack([head(h) for head in self.heads], dim=1)


class Translator(nn.Module):
    """G(x, s): (B, C, r, r), (B, S) -> (B, C, r, r).

    Encoder: from-RGB at the entry level, instance-normalised down-blocks to ``bottleneck`` x
    ``bottleneck``, ``n_bottleneck`` plain blocks; decoder: ``n_bottleneck`` AdaIN blocks, AdaIN
    up-blocks back to the entry level, its to-RGB (IN, LeakyReLU, 1x1 conv). Output unbounded
    (StarGAN v2 has no tanh). The bottleneck must be below the smallest stage's resolution.

    ``skip`` (how the source reaches the output besides the IN/AdaIN bottleneck):
    ``none`` (StarGAN v2's AFHQ translator, w_hpf = 0: everything passes the bottleneck);
    ``unet``: the encoder's feature map at every level above the bottleneck (before its
    down-block) is added to the decoder's output at the same level; ``hpf``: the same, through
    :class:`HighPass` (StarGAN v2's face translator, w_hpf = 1, without its landmark masks);
    ``residual``: G(x, s) = x + decoder output.
    ``out_norm``: the to-RGB's normalisation: ``in`` (StarGAN v2: instance norm with learned,
    style-free affine, so every output channel's per-image mean and spread before the 1x1 conv are
    fixed: a flat background's colour can only come from upstream); ``adain`` (AdaIN by s: the
    style sets them); ``none``.
    """

    def __init__(self, channels: int = 3, size: int = 32, style_dim: int = 64, base: int = 32,
                 max_dim: int = 256, bottleneck: int = 8, n_bottleneck: int = 2, skip: str = "none",
                 out_norm: str = "in") -> None:
        super().__init__()
        _check_size(size, 2)
        require("skip", skip, skip in SKIPS, f"give one of {', '.join(SKIPS)}")
        self.skip = skip
        self.hpf = HighPass() if skip == "hpf" else None
        require("out_norm", out_norm, out_norm in OUT_NORMS, f"give one of {', '.join(OUT_NORMS)}")
        check_int("bottleneck", bottleneck, low=1, high=size // 2)
        require("bottleneck", bottleneck, size % bottleneck == 0 and (size // bottleneck) & (size // bottleneck - 1) == 0,
                "it must be the image size divided by a power of 2")
        check_int("n_bottleneck", n_bottleneck, low=0)
        self.size = size
        w = widths(size, bottleneck, base, max_dim)
        self.from_rgb = nn.ModuleList(nn.Conv2d(channels, w[i], 3, 1, 1) for i in range(len(w)))
        self.down = nn.ModuleList(ResBlk(w[i], w[i + 1], normalize=True, downsample=True) for i in range(len(w) - 1))
        self.mid_enc = nn.ModuleList(ResBlk(w[-1], w[-1], normalize=True) for _ in range(n_bottleneck))
        self.mid_dec = nn.ModuleList(AdainResBlk(w[-1], w[-1], style_dim) for _ in range(n_bottleneck))
        self.up = nn.ModuleList(AdainResBlk(w[i + 1], w[i], style_dim, upsample=True) for i in range(len(w) - 1))
        self.to_rgb = nn.ModuleList(
            nn.Sequential(nn.InstanceNorm2d(w[i], affine=True) if out_norm == "in" else nn.Identity(),
                          nn.LeakyReLU(0.2), nn.Conv2d(w[i], channels, 1))
            for i in range(len(w) - 1)
        )
        self.out_adain = (nn.ModuleList(AdaIN(style_dim, w[i]) for i in range(len(w) - 1))
                          if out_norm == "adain" else None)

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        i0 = level_of(self.size, x.shape[-1])
        require("resolution", x.shape[-1], i0 < len(self.down), "it must be above the translator's bottleneck")
        h = self.from_rgb[i0](x)
        cache = []
        for blk in self.down[i0:]:
            cache.append(h)
            h = blk(h)
        for blk in self.mid_enc:
            h = blk(h)
        for blk in self.mid_dec:
            h = blk(h, s)
        for blk in reversed(self.up[i0:]):
            h = blk(h, s)
            if self.skip in ("unet", "hpf"):
                e = cache.pop()
                h = h + (e if self.hpf is None else self.hpf(e))
        if self.out_adain is not None:
            h = self.out_adain[i0](h, s)
        out = self.to_rgb[i0](h)
        return x + out if self.skip == "residual" else out
