"""The energy networks: f_theta(x) (B,), the NEGATIVE energy of p(x) ∝ exp(f) (the paper's f).

- :class:`VanillaNet`: the 5-layer "vanilla ConvNet" the paper describes (its draft: 3x3 convs,
  stride 1, ReLU); the layer shapes here follow the code it forks (ebm-anatomy ``VanillaNet``:
  a 3x3 s1 conv, three 4x4 s2 convs, a 4x4 conv to one value; LeakyReLU 0.05; n_f = 32).
- :class:`ToyNet`: the 2-d toy's energy, 5 layers of 1x1 convolutions (ebm-anatomy ``ToyNet``),
  i.e. an MLP on the coordinates, LeakyReLU 0.05.
"""

from __future__ import annotations

from torch import Tensor, nn

from latent_ebm.core.checks import check_int, check_real, require

__all__ = ["ToyNet", "VanillaNet"]


class VanillaNet(nn.Module):
    """f: (B, C, 32, 32) -> (B,). Channels n_f, 2n_f, 4n_f, 8n_f; spatial 32 -> 32 -> 16 -> 8 -> 4 -> 1."""

    def __init__(self, in_channels: int = 3, width: int = 32, leak: float = 0.05, size: int = 32) -> None:
        super().__init__()
        check_int("in_channels", in_channels, low=1)
        check_int("width", width, low=1)
        check_real("leak", leak, low=0.0, high=1.0)
        require("size", size, size == 32, "VanillaNet takes 32x32 images (pad 28x28 digits to 32x32)")
        n = width
        act = nn.LeakyReLU(leak)
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, n, 3, 1, 1), act,
            nn.Conv2d(n, 2 * n, 4, 2, 1), act,
            nn.Conv2d(2 * n, 4 * n, 4, 2, 1), act,
            nn.Conv2d(4 * n, 8 * n, 4, 2, 1), act,
            nn.Conv2d(8 * n, 1, 4, 1, 0),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()  # (B, 1, 1, 1) -> (B,)


class ToyNet(nn.Module):
    """f: (B, D) -> (B,); 5 layers (D -> width x4 -> 1) with LeakyReLU (1x1 convs on a point = linear)."""

    def __init__(self, dim: int = 2, width: int = 32, leak: float = 0.05, layers: int = 5) -> None:
        super().__init__()
        check_int("dim", dim, low=1)
        check_int("width", width, low=1)
        check_int("layers", layers, low=2)
        check_real("leak", leak, low=0.0, high=1.0)
        dims = [dim, *[width] * (layers - 1)]
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            blocks += [nn.Linear(a, b), nn.LeakyReLU(leak)]
        self.net = nn.Sequential(*blocks, nn.Linear(dims[-1], 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)
