"""LEBM: a generator with a latent-space energy-based prior, learned by MLE with short-run Langevin.

Pang, Han, Nijkamp, Zhu, Wu, "Learning Latent Space Energy-Based Prior Model", NeurIPS 2020
(arXiv 2006.08205), sec. 2 (equation numbers not checked here; each term is named by content):
    prior       p_alpha(z) ∝ exp(f_alpha(z)) N(z; 0, I)       core EnergyPrior (f: an MLP)
    generator   x = g_beta(z) + eps, eps ~ N(0, sigma² I)       nets.Generator, log_likelihood
    learning    delta_beta  = E_{p(z|x)}[grad log p_beta(x | z)]        core LatentEBMModule
                delta_alpha = E_{p(z|x)}[grad f] - E_{p_alpha(z)}[grad f] (EnergyPrior.contrastive_loss)
    sampling    short-run Langevin from N(0, I) for p(z | x) and p_alpha(z)  core samplers
The base module owns the training step; this class fills its hooks (``log_likelihood``,
``generator_parameters``) and adds what a user looks at (``predict_step``: samples x ~ p(x)).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from latent_ebm.core.checks import check_choice, check_int, check_real
from latent_ebm.core.lightning import ChainConfig, LatentEBMModule, OptimConfig
from latent_ebm.core.priors import EnergyPrior, GaussianPrior
from latent_ebm.core.samplers import LangevinSchedule

from .nets import Generator

__all__ = ["TemplateModule"]

# LEBM's reference settings (bpucla/latent-space-EBM-prior): posterior 20 x 0.1, prior 60 x 0.4,
# Adam betas (0.5, 0.999); the learning rates suit the 2-d toy.
POSTERIOR = LangevinSchedule(n_steps=20, step_size=0.1)
PRIOR_LANGEVIN = LangevinSchedule(n_steps=60, step_size=0.4)
GENERATOR_OPTIM = OptimConfig(lr=3e-3, algorithm="adam", betas=(0.5, 0.999))
PRIOR_OPTIM = OptimConfig(lr=1e-3, algorithm="adam", betas=(0.5, 0.999))


class TemplateModule(LatentEBMModule):
    """LEBM on vectors: p(x, z) = p_alpha(z) N(x; g_beta(z), sigma² I).

    Args (model): data_dim, latent_dim, hidden (generator width), obs_sigma (sigma),
        prior (``ebm``: the paper's; ``gaussian``: the N(0, I) ablation), prior_hidden.
    Args (the core's groups): posterior, prior_langevin, eval_posterior (Langevin settings),
        optim, prior_optim (optimisers), chains (persistent posterior chains), init_noise, seed.
    """

    def __init__(
        self,
        *,
        data_dim: int = 2,
        latent_dim: int = 2,
        hidden: int = 64,
        obs_sigma: float = 0.3,
        prior: Literal["ebm", "gaussian"] = "ebm",
        prior_hidden: int = 64,
        posterior: LangevinSchedule = POSTERIOR,
        prior_langevin: LangevinSchedule = PRIOR_LANGEVIN,
        eval_posterior: LangevinSchedule | None = None,
        optim: OptimConfig = GENERATOR_OPTIM,
        prior_optim: OptimConfig = PRIOR_OPTIM,
        chains: ChainConfig = ChainConfig(),
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__(posterior=posterior, prior_langevin=prior_langevin, eval_posterior=eval_posterior,
                         optim=optim, prior_optim=prior_optim, chains=chains, init_noise=init_noise, seed=seed)
        self.save_hyperparameters()
        check_real("obs_sigma", obs_sigma, low=0.0, low_open=True)
        check_choice("prior", prior, ("ebm", "gaussian"))
        check_int("prior_hidden", prior_hidden, low=1)
        self.generator = Generator(latent_dim, data_dim, hidden)
        self.prior = (EnergyPrior(latent_dim, hidden=prior_hidden, schedule=self.prior_schedule)
                      if prior == "ebm" else GaussianPrior(latent_dim))

    # ---- the base's hooks ---------------------------------------------------------------------
    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log N(x; g(z), sigma² I) per example, (B,)."""
        if x.dim() != 2 or x.shape[1] != self.hparams.data_dim:
            raise ValueError(f"x has shape {tuple(x.shape)}; this model expects (B, {self.hparams.data_dim})")
        s = self.hparams.obs_sigma
        d = x.shape[1]
        return -(x - self.generator(z)).square().sum(1) / (2 * s**2) - 0.5 * d * math.log(2 * math.pi * s**2)

    def generator_parameters(self):
        return self.generator.parameters()

    # ---- what a user looks at -------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """x = g(z), z ~ p_alpha(z) by prior Langevin: (n, data_dim), the generator's means."""
        check_int("n", n, low=1)
        return self.generator(self.sample_latents(n, generator=generator))

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        """As many samples x ~ p(x) as the batch has examples."""
        x, _ = self.split_batch(batch)
        with torch.enable_grad():
            return self.sample(self.batch_size_of(x))

    def write_predictions(self, predictions: list[Tensor], out_dir: Path) -> list[Path]:
        """``samples.csv`` (x, y per line) of every sample ``predict`` drew (the core's writer)."""
        path = out_dir / "samples.csv"
        rows = torch.cat(predictions).tolist()
        path.write_text("x,y\n" + "".join(f"{a:.5f},{b:.5f}\n" for a, b in rows))
        return [path]
