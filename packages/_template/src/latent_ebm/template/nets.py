"""The networks of the model (the core's priors hold the prior's energy network)."""

from __future__ import annotations

from torch import Tensor, nn

from latent_ebm.core.checks import check_int

__all__ = ["Generator"]


class Generator(nn.Module):
    """g_beta: z (B, latent_dim) -> the mean of p(x | z), (B, data_dim); an MLP with GELU."""

    def __init__(self, latent_dim: int, data_dim: int, hidden: int = 64, layers: int = 2) -> None:
        super().__init__()
        for name, value in (("latent_dim", latent_dim), ("data_dim", data_dim), ("hidden", hidden), ("layers", layers)):
            check_int(name, value, low=1)
        dims = [latent_dim, *[hidden] * layers]
        blocks: list[nn.Module] = []
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            blocks += [nn.Linear(d_in, d_out), nn.GELU()]
        self.net = nn.Sequential(*blocks, nn.Linear(dims[-1], data_dim))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)
