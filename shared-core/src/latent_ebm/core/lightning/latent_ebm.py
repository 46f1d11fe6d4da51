"""Latent-variable models learned with MCMC in the loop: LEBM's learning rule.

Pang, Han, Nijkamp, Zhu, Wu, "Learning Latent Space Energy-Based Prior Model", NeurIPS 2020, sec. 2:
    model      p(x, z) = p_alpha(z) p_beta(x | z),  p_alpha(z) ∝ exp(f_alpha(z)) N(z; 0, sigma² I)
    posterior  z ~ p(z | x) by short-run Langevin on E(z | x) = -log p_beta(x | z) + E_alpha(z)
    prior      z ~ p_alpha(z) by short-run Langevin on E_alpha(z) (only when the prior is an EBM)
    beta       ascends  E_{p(z|x)}[log p_beta(x | z)]                              (delta_beta)
    alpha      ascends  E_{p(z|x)}[f_alpha(z)] - E_{p_alpha(z)}[f_alpha(z)]        (delta_alpha)
Langevin: z <- z - (s²/2) grad E(z) + s eps (the paper's z + s grad log pi + sqrt(2 s') eps with
s' = s²/2), both chains started from p_0 = N(0, sigma² I).

Priors sample in u-space and the generator reads z = prior.transform(u) (identity except
UNetPrior, whose transform is learned with the generator, as in LPT).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from latent_ebm.core.lightning.config import ChainConfig, OptimConfig
from latent_ebm.core.rng import register_stream
from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

from ._base import Diagnostics, NoiseMode, SeededModule
from ._chains import ExampleChains

__all__ = ["LatentEBMModule", "is_energy_prior"]

POSTERIOR_DEFAULT = LangevinSchedule(n_steps=20, step_size=0.1)  # LEBM's g_l_steps / g_l_step_size
GENERATOR_OPTIM = OptimConfig(lr=1e-4, algorithm="adam", betas=(0.5, 0.999))  # LEBM's Adam settings
PRIOR_OPTIM = OptimConfig(lr=2e-5, algorithm="adam", betas=(0.5, 0.999))
_POST_STREAM = register_stream("core.posterior_start", 1)
_PRIOR_STREAM = register_stream("core.prior_start", 2)


def is_energy_prior(prior: nn.Module) -> bool:
    """A learnable latent EBM: it has ``contrastive_loss`` (e.g. ``EnergyPrior``)."""
    return callable(getattr(prior, "contrastive_loss", None))


def escape_inference(x: Any) -> Any:
    """Normal-tensor copies of inference tensors (Trainer(inference_mode=True) batches), so a
    Langevin energy can save them for backward."""
    if isinstance(x, Tensor):
        return x.clone() if x.is_inference() else x
    if isinstance(x, dict):
        return {k: escape_inference(v) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return type(x)(escape_inference(v) for v in x)
    return x


class LatentEBMModule(SeededModule):
    """Base LightningModule for p(x, z) = p(z) p(x | z) learned by posterior (and prior) Langevin.

    A package provides ``self.prior`` (a ``latent_ebm.core.priors`` prior) and two hooks,
    ``log_likelihood(x, z) -> (B,)`` and ``generator_parameters()``; it may override
    ``generator_loss`` (default the mean negative log-likelihood), ``training_posterior``
    (default :meth:`infer` from the chain starts), ``training_logs`` and ``eval_step``. The base
    runs each training step (manual optimisation): u_post from the posterior chains; u_prior by
    prior Langevin (EBM prior only); ONE backward of ``generator_loss + prior.contrastive_loss``
    (disjoint parameters: samples are detached) through :meth:`step_optimizers`, then each
    optimiser's clip and step. The generator optimiser holds ``generator_parameters()`` plus the
    prior's when the prior is not an EBM (UNetPrior's transform); the prior optimiser holds an EBM
    prior's parameters.

    Args:
        posterior: Langevin settings of posterior inference (LEBM: 20 steps of 0.1).
        prior_langevin: settings of prior sampling; None uses the prior's own schedule.
        eval_posterior: settings for validation/test inference; None uses ``posterior``.
        optim, prior_optim: the generator's and the EBM prior's optimisers (LEBM: Adam,
            betas (0.5, 0.999), lr 1e-4 and 2e-5).
        chains: persistent posterior chains (off: every chain starts from p_0).
        init_noise, seed: see :class:`SeededModule`.
    """

    prior: nn.Module

    def __init__(
        self,
        *,
        posterior: LangevinSchedule = POSTERIOR_DEFAULT,
        prior_langevin: LangevinSchedule | None = None,
        eval_posterior: LangevinSchedule | None = None,
        optim: OptimConfig = GENERATOR_OPTIM,
        prior_optim: OptimConfig = PRIOR_OPTIM,
        chains: ChainConfig = ChainConfig(),
        init_noise: NoiseMode = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__(init_noise=init_noise, seed=seed)
        self.automatic_optimization = False
        self.posterior_schedule = self.group(LangevinSchedule, posterior, "posterior")
        self.prior_schedule = self.group(LangevinSchedule, prior_langevin, "prior_langevin", allow_none=True)
        self.eval_schedule = (self.group(LangevinSchedule, eval_posterior, "eval_posterior", allow_none=True)
                              or self.posterior_schedule)
        self.optim = self.group(OptimConfig, optim, "optim")
        self.prior_optim = self.group(OptimConfig, prior_optim, "prior_optim")
        self.chain_config = self.group(ChainConfig, chains, "chains")
        for schedule, name in ((self.posterior_schedule, "posterior"), (self.prior_schedule, "prior_langevin"),
                               (self.eval_schedule, "eval_posterior")):
            self.require_moves(schedule, name)
        self._chains: ExampleChains | None = None

    # ---- what subclasses provide ----------------------------------------------------------------
    def log_likelihood(self, x: Any, z: Tensor) -> Tensor:
        """log p(x | z) per example, (B,)."""
        raise NotImplementedError

    def generator_parameters(self) -> Iterable[nn.Parameter]:
        """Parameters of p(x | z) (the prior's are added by :meth:`optimizer_groups`)."""
        raise NotImplementedError

    def generator_loss(self, x: Any, z: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """(loss to minimise for the generator at posterior samples z = T(u_post), logs):
        -E_{p(z|x)}[log p(x | z)] (minus LEBM's delta_beta objective), logged as ``train/nll``."""
        nll = -self.log_likelihood(x, z).mean()
        return nll, {"train/nll": nll.detach()}

    def training_posterior(self, x: Any, u0: Tensor, diagnostics: Diagnostics) -> Tensor:
        """u_post for a training batch from its chain starts u0: :meth:`infer` by default."""
        return self.infer(x, u0=u0, diagnostics=diagnostics)

    def training_logs(self, x: Any, u_post: Tensor, u_prior: Tensor | None) -> dict[str, Tensor]:
        """Extra values to log each training step (e.g. a model's solver cost); default none."""
        return {}

    # ---- energies and sampling ----------------------------------------------------------------------
    @property
    def latent_shape(self) -> tuple[int, ...]:
        return tuple(self.prior.shape)

    def posterior_energy(self, u: Tensor, x: Any) -> Tensor:
        """E(u | x) = -log p(x | T(u)) + E_prior(u), (B,)."""
        return -self.log_likelihood(x, self.prior.transform(u)) + self.prior.energy(u)

    def initial_latents(self, n: int, *, idx: Tensor | None = None, stream: int = _POST_STREAM,
                        generator: torch.Generator | None = None) -> Tensor:
        """Chain starts u_0 ~ p_0 = N(0, sigma² I), (n, *latent_shape)."""
        sigma = float(getattr(self.prior, "sigma", 1.0))
        return sigma * self.standard_normal(self.latent_shape, n, idx=idx, stream=stream, generator=generator)

    def infer(
        self,
        x: Any,
        *,
        schedule: LangevinSchedule | None = None,
        u0: Tensor | None = None,
        generator: torch.Generator | None = None,
        idx: Tensor | None = None,
        diagnostics: Diagnostics | None = None,
    ) -> Tensor:
        """u ~ p(u | x): Langevin on :meth:`posterior_energy` from u0 (default p_0); (B, *shape).

        Works under ``no_grad`` and ``inference_mode`` (gradients are taken w.r.t. u only).
        """
        schedule = schedule or self.posterior_schedule
        x = escape_inference(x)
        if u0 is None:
            u0 = self.initial_latents(self.batch_size_of(x), idx=idx, generator=generator)
        return langevin_from_schedule(
            lambda u: self.posterior_energy(u, x), u0, schedule,
            generator=generator or self.rng, callback=diagnostics,
        )

    def sample_prior(self, n: int, *, idx: Tensor | None = None, generator: torch.Generator | None = None,
                     diagnostics: Diagnostics | None = None) -> Tensor:
        """u ~ p(u): Langevin on the EBM prior from p_0, or the prior's exact sampler. (n, *shape)."""
        u0 = self.initial_latents(n, idx=idx, stream=_PRIOR_STREAM, generator=generator)
        if not is_energy_prior(self.prior):
            return u0
        schedule = self.prior_schedule or self.prior.schedule
        return langevin_from_schedule(self.prior.energy, u0, schedule, generator=generator or self.rng,
                                      callback=diagnostics)

    @torch.no_grad()
    def sample_latents(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """z = T(u), u ~ p(u): latents the generator reads, (n, ...)."""
        return self.prior.transform(self.sample_prior(n, generator=generator))

    # ---- training ---------------------------------------------------------------------------------
    @property
    def chains(self) -> ExampleChains | None:
        """The persistent posterior chains (``chains.persistent``), else None."""
        if self.chain_config.persistent and self._chains is None:
            self._chains = ExampleChains(self.chain_config.n_examples, self.latent_shape)
        return self._chains

    def _gather(self) -> Any:
        trainer = self._trainer
        return self.all_gather if trainer is not None and trainer.world_size > 1 else None

    def posterior_starts(self, b: int, idx: Tensor | None) -> Tensor:
        """Starts of a training batch's posterior chains, (b, *shape): draws from p_0, or where
        each example's persistent chain stopped on its last visit (``chains.persistent``)."""
        chains = self.chains
        if idx is None and (chains is not None or self.init_noise == "example"):
            raise ValueError(
                "chains.persistent=True and init_noise='example' need example indices: give "
                "batches as (x, index) or {'x': ..., 'index': ...}"
            )
        u0 = self.initial_latents(b, idx=idx)
        return u0 if chains is None else chains.starts(idx, u0)

    def store_posterior(self, idx: Tensor | None, u: Tensor) -> None:
        """Keep each example's posterior sample as its chain's next start (persistent chains only)."""
        if self.chains is not None:
            self.chains.update(idx, u, self._gather())

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, idx = self.split_batch(batch)
        b = self.batch_size_of(x)
        post_diag, prior_diag = Diagnostics(), Diagnostics()
        u_post = self.training_posterior(x, self.posterior_starts(b, idx), post_diag)
        ebm = is_energy_prior(self.prior)
        u_prior = self.sample_prior(b, idx=idx, diagnostics=prior_diag) if ebm else None
        self.iterations += 1
        self.store_posterior(idx, u_post)

        loss, logs = self.generator_loss(x, self.prior.transform(u_post))
        logs |= post_diag.as_dict("train/posterior")
        if ebm:
            prior_loss = self.prior.contrastive_loss(u_post, u_prior)  # -delta_alpha objective
            loss = loss + prior_loss
            logs |= {"train/prior_loss": prior_loss.detach(), **prior_diag.as_dict("train/prior")}
        self.step_optimizers(loss)
        logs |= self.training_logs(x, u_post, u_prior)
        self.log_dict(logs, on_step=True, on_epoch=False, batch_size=b)
        return loss.detach()

    def optimizer_groups(self) -> list[tuple[list[nn.Parameter], OptimConfig]]:
        gen_params = list(self.generator_parameters())
        prior_params = list(self.prior.parameters())
        ebm = is_energy_prior(self.prior)
        if not ebm:
            gen_params += prior_params  # e.g. UNetPrior's transform learns with the generator
        ids = [id(p) for p in gen_params]
        if len(set(ids)) != len(ids) or (ebm and set(ids) & {id(p) for p in prior_params}):
            raise ValueError(
                "generator_parameters() must not repeat parameters nor include the EBM prior's; "
                "the prior's parameters are added by optimizer_groups"
            )
        groups = [(gen_params, self.optim)]
        return groups + [(prior_params, self.prior_optim)] if ebm else groups

    # ---- evaluation -------------------------------------------------------------------------------
    def eval_step(self, batch: Any, stage: str) -> Tensor:
        """Posterior inference with ``eval_posterior`` and the mean negative log-likelihood,
        logged as ``<stage>/nll`` with the chain's diagnostics."""
        x, idx = self.split_batch(batch)
        diag = Diagnostics()
        u = self.infer(x, schedule=self.eval_schedule, idx=idx, diagnostics=diag)
        with torch.no_grad():
            nll = -self.log_likelihood(escape_inference(x), self.prior.transform(u)).mean()
        self.log_dict({f"{stage}/nll": nll, **diag.as_dict(f"{stage}/posterior")},
                      batch_size=self.batch_size_of(x), sync_dist=True)
        return nll

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        return self.eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> Any:
        return self.eval_step(batch, "test")

    # ---- checkpoints ------------------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        state = super().checkpoint_state()
        if self.chains is not None:
            state["posterior_chains"] = self.chains.state()
        return state

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        super().load_checkpoint_state(state)
        if self.chains is not None and "posterior_chains" in state:
            self.chains.load_state(state["posterior_chains"])
