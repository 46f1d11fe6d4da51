"""LEO's networks: the encoder q(z | x, y), the design decoder p(x | z), the value regressor
p(y | z), and the NTRE energy f(z) = sum_k log r_k(z) (one classifier head per waymark pair)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_ebm.core.checks import check_choice, check_int

__all__ = ["DesignDecoder", "Encoder", "Quadratic", "Regressor", "WaymarkRatios", "mlp"]


def mlp(d_in: int, hidden: int, d_out: int, layers: int = 2) -> nn.Sequential:
    """Linear-SiLU x ``layers`` then Linear: (B, d_in) -> (B, d_out)."""
    for name, value in (("d_in", d_in), ("hidden", hidden), ("d_out", d_out), ("layers", layers)):
        check_int(name, value, low=1)
    dims = [d_in, *[hidden] * layers]
    blocks: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        blocks += [nn.Linear(a, b), nn.SiLU()]
    return nn.Sequential(*blocks, nn.Linear(dims[-1], d_out))


def design_features(x: Tensor, n_classes: int) -> Tensor:
    """What the encoder reads of a design: one-hot tokens flattened (B, L*C), or the floats (B, D)."""
    return F.one_hot(x.long(), n_classes).flatten(1).float() if n_classes else x.float()


class Encoder(nn.Module):
    """q_phi(z | x, y) = N(mu, diag exp(logvar)): [features(x), y] -> (mu, logvar), each (B, latent)."""

    def __init__(self, design_dim: int, n_classes: int, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.n_classes = n_classes
        d_in = design_dim * (n_classes or 1) + 1
        self.net = mlp(d_in, hidden, 2 * latent_dim)

    def forward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        h = torch.cat([design_features(x, self.n_classes), y.reshape(-1, 1).to(torch.float32)], 1)
        mu, logvar = self.net(h).chunk(2, -1)
        return mu, logvar.clamp(-10.0, 4.0)


class DesignDecoder(nn.Module):
    """p_beta(x | z): per-position categorical logits (B, L, C), or the Gaussian mean (B, D)."""

    def __init__(self, design_dim: int, n_classes: int, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.design_dim, self.n_classes = design_dim, n_classes
        self.net = mlp(latent_dim, hidden, design_dim * (n_classes or 1))

    def forward(self, z: Tensor) -> Tensor:
        out = self.net(z)
        return out.view(-1, self.design_dim, self.n_classes) if self.n_classes else out


class Regressor(nn.Module):
    """r_gamma(z): the mean of p(y | z) = N(r(z), sigma_y²), (B,)."""

    def __init__(self, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.net = mlp(latent_dim, hidden, 1)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).squeeze(-1)


class Quadratic(nn.Module):
    """h(z) = z^T A z + b^T z + c with A symmetric: (B, d) -> (B, 1); exact for Gaussian pairs
    (TRE's quadratic heads)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.zeros(dim, dim))
        self.lin = nn.Linear(dim, 1)

    def forward(self, z: Tensor) -> Tensor:
        a = 0.5 * (self.a + self.a.T)
        return ((z @ a) * z).sum(1, keepdim=True) + self.lin(z)


class WaymarkRatios(nn.Module):
    """f(z) = sum_{k<K} h_k(z), where h_k(z) estimates log p_k(z) / p_{k+1}(z) between consecutive
    waymarks (TRE, Rhodes, Xu & Gutmann 2020); the sum telescopes to log p_0(z) / p_K(z) =
    log q_agg(z) / N(z; 0, I), so exp(f) N(0, I) is the energy-based prior. Heads: MLPs (SiLU),
    or quadratic forms (``head="quadratic"``)."""

    def __init__(self, latent_dim: int, n_waymarks: int, hidden: int, head: str = "mlp") -> None:
        super().__init__()
        check_int("n_waymarks", n_waymarks, low=1)
        check_choice("head", head, ("mlp", "quadratic"))
        make = (lambda: mlp(latent_dim, hidden, 1)) if head == "mlp" else (lambda: Quadratic(latent_dim))
        self.heads = nn.ModuleList(make() for _ in range(n_waymarks))

    def head(self, k: int, z: Tensor) -> Tensor:
        """h_k(z), (B,)."""
        return self.heads[k](z).squeeze(-1)

    def forward(self, z: Tensor) -> Tensor:
        return torch.stack([self.head(k, z) for k in range(len(self.heads))]).sum(0)
