"""Networks: the energy f(x~, logSNR, y) and the initializer U(x_t, logSNR, y).

Both read the noise level through the official embedding: u = arctan(exp(-logSNR / 2)) / (pi/2)
in (0, 1), then a sinusoidal embedding of 1000 u and a two-layer MLP (official; paper appendix unverified;
``models/ebm.py``). Class-conditional variants add a learned class embedding; index
``num_classes`` is the null label used by classifier-free guidance.

Images (C, H, W) use a ResNet energy (spectral norm, leaky ReLU, global sum pooling, output
projected on the level embedding) and a small UNet initializer with a residual output
(x_t + UNet(x_t)); 2-d toy data use MLP versions of the same blocks. The paper's initializer
is :class:`UNetInitializer`, the core's DDPM UNet (official ``models/unet.py``) read at the
same level coordinate u.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

from latent_ebm.core.checks import require
from latent_ebm.core.nn import DDPMUNet

__all__ = ["EnergyNet", "Initializer", "UNetInitializer", "level_embedding", "level_coordinate"]


def level_coordinate(logsnr: Tensor) -> Tensor:
    """(B,) logSNR -> u = arctan(exp(-logSNR / 2)) / (pi/2) in (0, 1), logSNR clamped to +-20
    (official ``models/ebm.py`` and ``models/unet.py``: the input of the level embedding)."""
    return torch.atan(torch.exp(-0.5 * logsnr.clamp(-20.0, 20.0))) / (0.5 * math.pi)


def level_embedding(logsnr: Tensor, dim: int) -> Tensor:
    """(B,) logSNR -> (B, dim) sinusoidal embedding of 1000 * arctan(exp(-logSNR/2)) / (pi/2)."""
    u = level_coordinate(logsnr) * 1000.0
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=u.device) / max(half - 1, 1))
    arg = u[:, None].float() * freqs[None]
    return torch.cat([arg.sin(), arg.cos()], dim=1)


class _Cond(nn.Module):
    """Level (and class) embedding -> (B, 4 dim)."""

    def __init__(self, dim: int, num_classes: int, sn: bool) -> None:
        super().__init__()
        wrap = _sn if sn else (lambda m: m)
        self.dim = dim
        self.map1, self.map2 = wrap(nn.Linear(dim, 4 * dim)), wrap(nn.Linear(4 * dim, 4 * dim))
        self.classes = nn.Embedding(num_classes + 1, dim) if num_classes > 0 else None

    def forward(self, logsnr: Tensor, y: Tensor | None) -> Tensor:
        e = level_embedding(logsnr, self.dim)
        if self.classes is not None:
            if y is None:
                y = torch.full_like(logsnr, self.classes.num_embeddings - 1, dtype=torch.long)
            e = e + self.classes(y)
        return self.map2(F.leaky_relu(self.map1(e), 0.2))


class _Block(nn.Module):
    """act -> layer -> + level projection -> act -> layer * g, plus a shortcut (ebm.py ResnetBlock)."""

    def __init__(self, cin: int, cout: int, emb: int, conv: bool, sn: bool, act) -> None:
        super().__init__()
        wrap = _sn if sn else (lambda m: m)
        layer = (lambda i, o: nn.Conv2d(i, o, 3, padding=1)) if conv else nn.Linear
        self.l1, self.l2, self.emb = wrap(layer(cin, cout)), wrap(layer(cout, cout)), wrap(nn.Linear(emb, cout))
        self.short = wrap(layer(cin, cout)) if cin != cout else nn.Identity()
        self.g = nn.Parameter(torch.ones(cout))
        self.act, self.conv = act, conv

    def forward(self, h: Tensor, e: Tensor) -> Tensor:
        tail = (1, 1) if self.conv else ()
        out = self.l1(self.act(h)) + self.act(self.emb(self.act(e))).view(e.shape[0], -1, *tail)
        out = self.l2(self.act(out)) * self.g.view(1, -1, *tail)
        return out + self.short(h)


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)


class EnergyNet(nn.Module):
    """f(x~, logSNR, y) -> (B,): the network output, read as energy times s_t^2 (see sampler).

    Args:
        data_shape: (C, H, W) for images or (D,) for vectors.
        width: base channels (official 128 on CIFAR-10); mult: per-resolution multipliers.
        n_blocks: residual blocks per resolution; spectral_norm: on every layer (official
            ``models/ebm.py`` ``use_sn``, on in ``main_uncond.py``: ``with_sn = True``, one power step).
        num_classes: 0 for unconditional; else a class embedding with a null label.
    """

    def __init__(self, data_shape: tuple[int, ...], width: int = 32, mult: tuple[int, ...] = (1, 2, 2),
                 n_blocks: int = 1, spectral_norm: bool = True, num_classes: int = 0) -> None:
        super().__init__()
        conv = len(data_shape) == 3
        wrap = _sn if spectral_norm else (lambda m: m)
        self.conv, self.num_classes = conv, num_classes
        self.cond = _Cond(width, num_classes, spectral_norm)
        cin = data_shape[0]
        self.stem = wrap(nn.Conv2d(cin, width, 3, padding=1) if conv else nn.Linear(cin, width))
        blocks: list[nn.Module] = []
        ch = width
        for i, m in enumerate(mult):
            for _ in range(n_blocks):
                blocks.append(_Block(ch, width * m, 4 * width, conv, spectral_norm, _lrelu))
                ch = width * m
            if conv and i < len(mult) - 1:
                blocks.append(nn.AvgPool2d(2))
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(4 * width, ch, bias=False)

    def forward(self, x: Tensor, logsnr: Tensor, y: Tensor | None = None) -> Tensor:
        e = self.cond(logsnr, y)  # (B, 4 width)
        h = self.stem(x)
        for b in self.blocks:
            h = b(h) if isinstance(b, nn.AvgPool2d) else b(h, e)
        h = F.relu(h)
        if self.conv:
            h = h.sum(dim=(2, 3))  # (B, ch)
        return (h * self.head(_lrelu(e))).sum(dim=1)


class Initializer(nn.Module):
    """U(x_t, logSNR_t, y) -> proposal for x~ = m_t x_{t-1}, same shape as x_t; residual output.

    Images: a small UNet (skip connections at each resolution); vectors: an MLP of residual blocks.
    """

    def __init__(self, data_shape: tuple[int, ...], width: int = 16, mult: tuple[int, ...] = (1, 2, 2),
                 num_classes: int = 0) -> None:
        super().__init__()
        self.conv = len(data_shape) == 3
        self.cond = _Cond(width, num_classes, False)
        cin, emb = data_shape[0], 4 * width
        act = F.silu
        if not self.conv:
            self.stem = nn.Linear(cin, width * mult[0])
            self.down = nn.ModuleList(
                _Block(width * mult[0], width * mult[0], emb, False, False, act) for _ in mult
            )
            self.up = nn.ModuleList()
            self.out = nn.Linear(width * mult[0], cin)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
            return
        self.stem = nn.Conv2d(cin, width, 3, padding=1)
        chans = [width * m for m in mult]
        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        ch = width
        for c in chans:
            self.down.append(_Block(ch, c, emb, True, False, act))
            ch = c
        self.mid = _Block(ch, ch, emb, True, False, act)
        for c in reversed(chans):
            self.up.append(_Block(ch + c, c, emb, True, False, act))
            ch = c
        self.out = nn.Conv2d(ch, cin, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, logsnr: Tensor, y: Tensor | None = None) -> Tensor:
        e = self.cond(logsnr, y)
        h = self.stem(x)
        if not self.conv:
            for b in self.down:
                h = b(h, e)
            return x + self.out(F.silu(h))
        skips = []
        for i, b in enumerate(self.down):
            h = b(h, e)
            skips.append(h)  # (B, c_i, H / 2^i, W / 2^i)
            if i < len(self.down) - 1:
                h = F.avg_pool2d(h, 2)
        h = self.mid(h, e)
        for b in self.up:
            s = skips.pop()
            if h.shape[-1] != s.shape[-1]:
                h = F.interpolate(h, size=s.shape[-2:], mode="nearest")
            h = b(torch.cat([h, s], dim=1), e)
        return x + self.out(F.silu(h))


class UNetInitializer(nn.Module):
    """U(x_t, logSNR_t, y) -> x_t + UNet(x_t, u_t, y): the official CDRL initializer
    (``models/unet.py``, ``Unet(tanh_out=False, residual=True, dim=64)`` in ``main_uncond.py``), the
    core's :class:`~latent_ebm.core.nn.DDPMUNet` at u_t = :func:`level_coordinate` (its sinusoid
    reads 1000 u_t, as the official one). Square images only.

    Args:
        data_shape: (C, H, W) with H = W; width, mult, n_blocks, attention, dropout: the UNet's
            (official 64, (1, 1, 1), 3, (16, 8), 0.1: 3,769,795 parameters on CIFAR-10). GroupNorm
            takes 32 groups (official) or, for narrower nets, gcd(32, width).
        num_classes: > 0 adds a class embedding with the null label ``num_classes`` (official
            ``models/unet_cond.py`` adds a linear map of the one-hot label to the level embedding).
    """

    def __init__(self, data_shape: tuple[int, ...], width: int = 64, mult: tuple[int, ...] = (1, 1, 1),
                 n_blocks: int = 3, attention: tuple[int, ...] = (16, 8), dropout: float = 0.1,
                 num_classes: int = 0) -> None:
        super().__init__()
        ok = len(data_shape) == 3 and data_shape[1] == data_shape[2]
        require("data_shape", tuple(data_shape), ok, "the UNet initializer needs square (C, H, H) images")
        self.unet = DDPMUNet(data_shape[0], width, mult, n_blocks, attention, image_size=data_shape[1],
                             dropout=dropout, groups=math.gcd(32, width), num_classes=num_classes)

    def forward(self, x: Tensor, logsnr: Tensor, y: Tensor | None = None) -> Tensor:
        return self.unet(x, level_coordinate(logsnr), y)
