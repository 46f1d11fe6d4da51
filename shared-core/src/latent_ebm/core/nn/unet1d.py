"""A 1-d UNet over the coordinates of a vector: LPT's prior transform z = U(z0).

Architecture as in the official LPT code (``unet1d.py``, itself after lucidrains'
denoising-diffusion-pytorch, without the time embedding): a 7-wide input conv; per resolution two
ResNet blocks (weight-standardised conv, GroupNorm(8), SiLU), a residual linear attention, and a
stride-2 down-sampling conv (none after the last); in the middle ResNet, full self-attention,
ResNet; the mirrored up path with skip connections; a final ResNet block over the input conv's
features and a 1x1 conv back to one channel.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_ebm.core.checks import as_shape, check_int, require

__all__ = ["UNet1d"]


class _WSConv1d(nn.Conv1d):
    """Conv1d with weight standardisation (Qiao et al. 2019, eq. 5), which suits GroupNorm."""

    def forward(self, x: Tensor) -> Tensor:
        eps = 1e-5 if x.dtype == torch.float32 else 1e-3
        w = self.weight
        mean = w.mean(dim=(1, 2), keepdim=True)
        var = w.var(dim=(1, 2), unbiased=False, keepdim=True)
        return F.conv1d(x, (w - mean) * (var + eps).rsqrt(), self.bias, self.stride, self.padding)


class _ChannelNorm(nn.Module):
    """LayerNorm over the channels of (B, C, L), with a gain and no bias."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        eps = 1e-5 if x.dtype == torch.float32 else 1e-3
        var, mean = torch.var_mean(x, dim=1, unbiased=False, keepdim=True)
        return (x - mean) * (var + eps).rsqrt() * self.gain


class _ResBlock(nn.Module):
    """Two (WS-conv3, GroupNorm, SiLU) layers plus a 1x1 skip when the width changes."""

    def __init__(self, c_in: int, c_out: int, groups: int) -> None:
        super().__init__()
        self.conv1, self.norm1 = _WSConv1d(c_in, c_out, 3, padding=1), nn.GroupNorm(groups, c_out)
        self.conv2, self.norm2 = _WSConv1d(c_out, c_out, 3, padding=1), nn.GroupNorm(groups, c_out)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = F.silu(self.norm1(self.conv1(x)))
        h = F.silu(self.norm2(self.conv2(h)))
        return h + self.skip(x)


class _Attention(nn.Module):
    """Residual pre-norm multi-head attention over positions of (B, C, L).

    ``linear=True``: the softmax-kernel linear attention of the down/up paths (Shen et al. 2021,
    "Efficient Attention", eq. 4); otherwise full softmax attention (the middle block).
    """

    def __init__(self, channels: int, *, linear: bool, heads: int = 4, dim_head: int = 32) -> None:
        super().__init__()
        self.heads, self.linear = heads, linear
        hidden = heads * dim_head
        self.norm = _ChannelNorm(channels)
        self.qkv = nn.Conv1d(channels, 3 * hidden, 1, bias=False)
        self.out = nn.Conv1d(hidden, channels, 1)
        self.out_norm = _ChannelNorm(channels) if linear else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        b, _, length = x.shape
        q, k, v = (
            t.reshape(b, self.heads, -1, length) for t in self.qkv(self.norm(x)).chunk(3, dim=1)
        )
        if self.linear:  # (B, H, dh, L): softmax q over features, k over positions
            q = q.softmax(dim=-2) * q.shape[-2] ** -0.5
            context = torch.einsum("bhdn,bhen->bhde", k.softmax(dim=-1), v)
            y = torch.einsum("bhde,bhdn->bhen", context, q)
        else:
            y = F.scaled_dot_product_attention(
                q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)
            )
            y = y.transpose(-1, -2)
        return x + self.out_norm(self.out(y.reshape(b, -1, length)))


class _Level(nn.Module):
    def __init__(
        self, block1: nn.Module, block2: nn.Module, attn: nn.Module, resample: nn.Module
    ) -> None:
        super().__init__()
        self.block1, self.block2, self.attn, self.resample = block1, block2, attn, resample


class UNet1d(nn.Module):
    """(B, channels, L) -> (B, channels, L); L must be divisible by 2 ** (len(multipliers) - 1)."""

    def __init__(
        self,
        base_width: int = 16,
        multipliers: Sequence[int] = (1, 2, 4, 8),
        *,
        channels: int = 1,
        groups: int = 8,
    ) -> None:
        super().__init__()
        check_int("base_width", base_width, low=1)
        require("base_width", base_width, base_width % groups == 0, f"it must be divisible by groups={groups}")
        mults = as_shape(tuple(multipliers), "multipliers")
        self.factor = 2 ** (len(mults) - 1)
        widths = [base_width, *(base_width * m for m in mults)]
        pairs = list(zip(widths[:-1], widths[1:]))
        self.init_conv = nn.Conv1d(channels, base_width, 7, padding=3)
        self.downs = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(pairs):
            last = i == len(pairs) - 1
            resample = (
                nn.Conv1d(c_in, c_out, 3, padding=1) if last else nn.Conv1d(c_in, c_out, 4, 2, 1)
            )
            self.downs.append(
                _Level(
                    _ResBlock(c_in, c_in, groups),
                    _ResBlock(c_in, c_in, groups),
                    _Attention(c_in, linear=True),
                    resample,
                )
            )
        mid = widths[-1]
        self.mid1, self.mid_attn, self.mid2 = (
            _ResBlock(mid, mid, groups),
            _Attention(mid, linear=False),
            _ResBlock(mid, mid, groups),
        )
        self.ups = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(reversed(pairs)):
            last = i == len(pairs) - 1
            resample = (
                nn.Conv1d(c_out, c_in, 3, padding=1)
                if last
                else nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv1d(c_out, c_in, 3, padding=1),
                )
            )
            self.ups.append(
                _Level(
                    _ResBlock(c_out + c_in, c_out, groups),
                    _ResBlock(c_out + c_in, c_out, groups),
                    _Attention(c_out, linear=True),
                    resample,
                )
            )
        self.final_block = _ResBlock(2 * base_width, base_width, groups)
        self.final_conv = nn.Conv1d(base_width, channels, 1)
        for m in self.modules():  # as the official code: Kaiming-uniform with gain 1, zero biases
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_uniform_(m.weight, nonlinearity="sigmoid")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[-1] % self.factor:
            raise ValueError(
                f"x of shape {tuple(x.shape)} is not allowed; it must be (B, C, L) with L divisible by {self.factor}"
            )
        x = self.init_conv(x)  # (B, w, L)
        r, skips = x, []
        for lvl in self.downs:
            x = lvl.block1(x)
            skips.append(x)
            x = lvl.attn(lvl.block2(x))
            skips.append(x)
            x = lvl.resample(x)
        x = self.mid2(self.mid_attn(self.mid1(x)))
        for lvl in self.ups:
            x = lvl.block1(torch.cat((x, skips.pop()), dim=1))
            x = lvl.attn(lvl.block2(torch.cat((x, skips.pop()), dim=1)))
            x = lvl.resample(x)
        return self.final_conv(self.final_block(torch.cat((x, r), dim=1)))
