"""The linear-Gaussian latent model, with its exact posterior, and small modules built on it.

x = W z + sigma * e, z ~ N(0, I_K), e ~ N(0, I_D)  (probabilistic PCA; Tipping & Bishop 1999):
    p(z | x) = N(S W^T x / sigma², S),  S = (I + W^T W / sigma²)^-1
    p(x)     = N(0, W W^T + sigma² I)
so every base module has a known answer to be tested against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from latent_ebm.core.lightning import (
    ChainConfig,
    CooperativeModule,
    DualRateModule,
    FastLoop,
    LatentEBMModule,
    LocalPosterior,
    OptimConfig,
)
from latent_ebm.core.nn import gaussian_kl
from latent_ebm.core.priors import EnergyPrior, GaussianPrior
from latent_ebm.core.samplers import LangevinSchedule

__all__ = [
    "GaussianCoop",
    "LinearGaussian",
    "LinearGaussianDualRate",
    "LinearGaussianLEBM",
    "fixed_eps_optimum",
    "subspace_angles",
]

_POSTERIOR = LangevinSchedule(20, 0.1)
_REVISION = LangevinSchedule(20, 0.3)
_ADAM = OptimConfig(lr=1e-2, algorithm="adam", betas=(0.5, 0.999))
_PRIOR_ADAM = OptimConfig(lr=1e-3, algorithm="adam", betas=(0.5, 0.999))
_COOP_ADAM = OptimConfig(lr=0.05, algorithm="adam", betas=(0.5, 0.999))


@dataclass
class LinearGaussian:
    """W (D, K), sigma: the model and its closed forms (float64 recommended)."""

    W: Tensor
    sigma: float

    @classmethod
    def random(cls, data_dim: int, latent_dim: int, sigma: float, *, scales: tuple[float, ...] | None = None,
               orthogonal: bool = False, seed: int = 0, dtype: torch.dtype = torch.float64) -> LinearGaussian:
        """A random W; ``orthogonal`` gives orthogonal columns of norms ``scales`` (W^T W diagonal)."""
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(data_dim, latent_dim, generator=g, dtype=dtype)
        if orthogonal:
            w, _ = torch.linalg.qr(w)
        if scales is not None:
            w = w * torch.tensor(scales, dtype=dtype)
        return cls(w, float(sigma))

    @property
    def data_dim(self) -> int:
        return self.W.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.W.shape[1]

    def sample(self, n: int, *, seed: int = 0) -> tuple[Tensor, Tensor]:
        """(x (n, D), z (n, K))."""
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.latent_dim, generator=g, dtype=self.W.dtype)
        e = torch.randn(n, self.data_dim, generator=g, dtype=self.W.dtype)
        return z @ self.W.T + self.sigma * e, z

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mean (n, K), cov (K, K)) of p(z | x)."""
        eye = torch.eye(self.latent_dim, dtype=self.W.dtype)
        cov = torch.linalg.inv(eye + self.W.T @ self.W / self.sigma**2)
        return x.to(self.W) @ self.W @ cov / self.sigma**2, cov

    def marginal_cov(self) -> Tensor:
        """W W^T + sigma² I, (D, D)."""
        return self.W @ self.W.T + self.sigma**2 * torch.eye(self.data_dim, dtype=self.W.dtype)


def gaussian_nll(x: Tensor, mean: Tensor, sigma: float) -> Tensor:
    """-log N(x; mean, sigma² I) summed over dims, (B,)."""
    d = x.shape[1]
    return (x - mean).square().sum(dim=1) / (2 * sigma**2) + 0.5 * d * math.log(2 * math.pi * sigma**2)


def subspace_angles(a: Tensor, b: Tensor) -> Tensor:
    """Principal angles (radians) between the column spaces of a (D, K) and b (D, K)."""
    qa, _ = torch.linalg.qr(a)
    qb, _ = torch.linalg.qr(b)
    return torch.arccos(torch.linalg.svdvals(qa.T @ qb).clamp(-1, 1))


def fixed_eps_optimum(model: LinearGaussian, x: Tensor, eps: Tensor) -> tuple[Tensor, Tensor]:
    """(mu, sigma_q), (n, K): the maximiser of the single-sample ELBO with eps held fixed,
    -||x - W(mu + eps sigma_q)||² / (2 sigma²) - KL(N(mu, sigma_q²) || N(0, I)), when W^T W is
    diagonal (lam_k = ||w_k||² / sigma²). Stationarity gives mu = (b - lam eps s) / (1 + lam) and
    (1 + lam + lam eps²) s² - eps b s - (1 + lam) = 0 (positive root), b = W^T x / sigma².
    It differs from the exact posterior (e.g. eps = 0 gives s = 1): the fixed-eps inner loop of
    LTM finds this point, not p(z | x)."""
    lam = (model.W.square().sum(dim=0) / model.sigma**2).to(x)  # (K,)
    b = x @ model.W.to(x) / model.sigma**2  # (n, K)
    qa = 1 + lam + lam * eps.square()
    s = (eps * b + torch.sqrt((eps * b).square() + 4 * qa * (1 + lam))) / (2 * qa)
    return (b - lam * eps * s) / (1 + lam), s


class LinearGaussianLEBM(LatentEBMModule):
    """p(x | z) = N(W z, sigma² I) with a Gaussian or an energy-based prior (LEBM's rule)."""

    def __init__(
        self,
        *,
        data_dim: int = 4,
        latent_dim: int = 2,
        obs_sigma: float = 0.5,
        prior: Literal["gaussian", "ebm"] = "gaussian",
        prior_hidden: int = 16,
        posterior: LangevinSchedule = _POSTERIOR,
        prior_langevin: LangevinSchedule | None = None,
        optim: OptimConfig = _ADAM,
        prior_optim: OptimConfig = _PRIOR_ADAM,
        chains: ChainConfig = ChainConfig(),
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__(posterior=posterior, prior_langevin=prior_langevin, optim=optim, prior_optim=prior_optim,
                         chains=chains, init_noise=init_noise, seed=seed)
        self.save_hyperparameters()
        self.decoder = nn.Linear(latent_dim, data_dim, bias=False)
        self.prior = (EnergyPrior(latent_dim, hidden=prior_hidden) if prior == "ebm"
                      else GaussianPrior(latent_dim))

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        return -gaussian_nll(x, self.decoder(z), self.hparams.obs_sigma)

    def generator_parameters(self):
        return self.decoder.parameters()


class LinearGaussianDualRate(DualRateModule):
    """The linear-Gaussian model under dual-rate VB; W learned by the slow loop.

    ``expected_nll=True`` uses the closed-form E_q[-log p(x | z)] in the inner loop (exact ELBO,
    whose optimum over a diagonal q is p(z | x) when W^T W is diagonal); False the sampled one.
    """

    def __init__(
        self,
        *,
        data_dim: int = 4,
        latent_dim: int = 2,
        obs_sigma: float = 0.5,
        expected_nll: bool = False,
        fast: FastLoop = FastLoop(weight_decay=0.0),
        optim: OptimConfig = OptimConfig(lr=1e-2, algorithm="adam"),
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__(fast=fast, optim=optim, init_noise=init_noise, seed=seed)
        self.save_hyperparameters()
        self.latent_shape = (latent_dim,)
        self.W = nn.Parameter(torch.randn(data_dim, latent_dim) * 0.3)

    def nll(self, x: Tensor, z: Tensor) -> Tensor:
        return gaussian_nll(x, z @ self.W.T, self.hparams.obs_sigma)

    def elbo_terms(self, x: Tensor, local: LocalPosterior) -> tuple[Tensor, Tensor]:
        if not self.hparams.expected_nll:
            return super().elbo_terms(x, local)
        # E_q ||x - W z||² = ||x - W mu||² + sum_k ||w_k||² var_k
        trace = (local.logvar.exp() * self.W.square().sum(dim=0)).sum(dim=1)
        nll = gaussian_nll(x, local.mu @ self.W.T, self.hparams.obs_sigma) + trace / (2 * self.hparams.obs_sigma**2)
        return nll, gaussian_kl(local.mu, local.logvar)


class GaussianCoop(CooperativeModule):
    """CoopNets on vectors: E(x) = sum_i exp(log_prec_i) (x_i - a_i)² / 2 and G(z) = A z + c."""

    def __init__(
        self,
        *,
        dim: int = 2,
        revision: LangevinSchedule = _REVISION,
        energy_optim: OptimConfig = _COOP_ADAM,
        initializer_optim: OptimConfig = _COOP_ADAM,
        initializer_sigma: float = 1.0,
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__(revision=revision, energy_optim=energy_optim, initializer_optim=initializer_optim,
                         initializer_sigma=initializer_sigma, init_noise=init_noise, seed=seed)
        self.save_hyperparameters()
        self.a = nn.Parameter(torch.zeros(dim))
        self.log_prec = nn.Parameter(torch.zeros(dim))
        self.gen = nn.Linear(dim, dim)
        with torch.no_grad():
            self.gen.weight.copy_(torch.eye(dim))
            self.gen.bias.zero_()

    def energy(self, x: Tensor, cond: object) -> Tensor:
        return 0.5 * (self.log_prec.exp() * (x - self.a).square()).sum(dim=1)

    def propose(self, batch: Tensor | tuple, cond: object) -> Tensor:
        x, idx = self.split_batch(batch)
        z = self.standard_normal((x.shape[1],), x.shape[0], idx=idx, dtype=x.dtype)
        return self.gen(z)

    def sample_proposals(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        return self.gen(self.standard_normal((self.a.shape[0],), n, generator=generator, dtype=self.a.dtype))

    def energy_parameters(self):
        return [self.a, self.log_prec]

    def initializer_parameters(self):
        return self.gen.parameters()
