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

from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

from ._base import CKPT_KEY, Diagnostics, NoiseMode, SeededModule, check_positive
from ._chains import ExampleChains

__all__ = ["LatentEBMModule"]

POSTERIOR_DEFAULT = LangevinSchedule(n_steps=20, step_size=0.1)  # LEBM's g_l_steps / g_l_step_size
_POST_STREAM, _PRIOR_STREAM = 1, 2


def is_energy_prior(prior: nn.Module) -> bool:
    """A learnable latent EBM: it has ``contrastive_loss`` (e.g. ``EnergyPrior``)."""
    return callable(getattr(prior, "contrastive_loss", None))


def _escape_inference(x: Any) -> Any:
    """Normal-tensor copies of inference tensors (Trainer(inference_mode=True) batches), so the
    Langevin energy can save them for backward."""
    if isinstance(x, Tensor):
        return x.clone() if x.is_inference() else x
    if isinstance(x, dict):
        return {k: _escape_inference(v) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return type(x)(_escape_inference(v) for v in x)
    return x


class LatentEBMModule(SeededModule):
    """Base LightningModule for p(x, z) = p(z) p(x | z) learned by posterior (and prior) Langevin.

    Subclasses provide ``self.prior`` (a ``latent_ebm.core.priors`` prior), ``log_likelihood(x,
    z) -> (B,)`` and ``generator_parameters()``. Each training step (manual optimisation):
    u_post = infer(x); u_prior = prior Langevin (EBM prior only); one backward of
    ``-log p(x | T(u_post)).mean() + prior.contrastive_loss(u_post, u_prior)`` -- the two terms
    touch disjoint parameters (samples are detached), so this equals two separate backwards but
    needs one DDP reduction and works with plain ``strategy="ddp"`` -- then per-optimiser gradient
    clipping and both steps. The generator optimiser holds ``generator_parameters()`` plus the
    prior's parameters when the prior is not an EBM (UNetPrior's transform); the prior optimiser
    holds an EBM prior's parameters.

    Args:
        posterior: Langevin settings of posterior inference (LEBM: 20 steps of 0.1).
        prior_langevin: settings of prior sampling; None uses the prior's own schedule.
        eval_posterior: settings for validation/test inference; None uses ``posterior``.
        generator_lr, prior_lr, betas: Adam settings (LEBM: 1e-4 / 2e-5 range, betas (0.5, 0.999)).
        grad_clip: max global grad norm per optimiser (None: no clipping).
        persistent_posterior: warm-start each example's posterior chain from its last sample
            (needs example indices in the batch and ``n_examples``); not in the paper.
        n_examples: training set size (persistent chains only).
        init_noise: ``"rank"`` draws chain starts from the per-rank generator; ``"example"`` keys
            them by example index, so the starts do not depend on batch split or world size.
        seed: base seed of the per-rank sampler generator (None: the global seed).
    """

    prior: nn.Module

    def __init__(
        self,
        *,
        posterior: LangevinSchedule = POSTERIOR_DEFAULT,
        prior_langevin: LangevinSchedule | None = None,
        eval_posterior: LangevinSchedule | None = None,
        generator_lr: float = 1e-4,
        prior_lr: float = 2e-5,
        betas: tuple[float, float] = (0.5, 0.999),
        grad_clip: float | None = None,
        persistent_posterior: bool = False,
        n_examples: int = 0,
        init_noise: NoiseMode = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.save_base_hyperparameters(dict(locals()))
        self.automatic_optimization = False
        check_positive(generator_lr=generator_lr, prior_lr=prior_lr)
        if grad_clip is not None:
            check_positive(grad_clip=grad_clip)
        if init_noise not in ("rank", "example"):
            raise ValueError(f"init_noise={init_noise!r} is not allowed; use 'rank' or 'example'")
        if persistent_posterior and (isinstance(n_examples, bool) or not isinstance(n_examples, int) or n_examples < 1):
            raise ValueError(
                f"n_examples={n_examples!r} is not allowed with persistent_posterior=True; "
                "give the training set size (an int >= 1)"
            )
        self.posterior_schedule = self.schedule_hparam(self, "posterior")
        if self.posterior_schedule is None:
            raise ValueError("posterior=None is not allowed; give a LangevinSchedule")
        self.prior_schedule = self.schedule_hparam(self, "prior_langevin")
        self.eval_schedule = self.schedule_hparam(self, "eval_posterior") or self.posterior_schedule
        self._chains: ExampleChains | None = None
        self._langevin_calls = 0  # offset of example-keyed starts; saved in checkpoints

    # ---- what subclasses provide ----------------------------------------------------------------
    def log_likelihood(self, x: Any, z: Tensor) -> Tensor:
        """log p(x | z) per example, (B,)."""
        raise NotImplementedError

    def generator_parameters(self) -> Iterable[nn.Parameter]:
        """Parameters of p(x | z) (the prior's are added by ``configure_optimizers``)."""
        raise NotImplementedError

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
        keyed = self.hparams.init_noise == "example" and idx is not None and generator is None
        mode = "example" if keyed else "rank"
        eps = self.standard_normal(self.latent_shape, n, idx=idx, stream=stream,
                                   offset=self._langevin_calls, mode=mode, generator=generator)
        return sigma * eps

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
        x = _escape_inference(x)
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
        """The persistent posterior chains (``persistent_posterior=True``), else None."""
        if self.hparams.persistent_posterior and self._chains is None:
            self._chains = ExampleChains(self.hparams.n_examples, self.latent_shape)
        return self._chains

    def _gather(self) -> Any:
        trainer = self._trainer
        return self.all_gather if trainer is not None and trainer.world_size > 1 else None

    def posterior_starts(self, b: int, idx: Tensor | None) -> Tensor:
        """Starts of a training batch's posterior chains, (b, *shape): draws from p_0, or where
        each example's persistent chain stopped on its last visit (``persistent_posterior``)."""
        chains = self.chains
        if idx is None and (chains is not None or self.hparams.init_noise == "example"):
            raise ValueError(
                "persistent_posterior=True and init_noise='example' need example indices: give "
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
        u_post = self.infer(x, u0=self.posterior_starts(b, idx), diagnostics=post_diag)
        ebm = is_energy_prior(self.prior)
        u_prior = self.sample_prior(b, idx=idx, diagnostics=prior_diag) if ebm else None
        self._langevin_calls += 1
        self.store_posterior(idx, u_post)

        nll = -self.log_likelihood(x, self.prior.transform(u_post)).mean()  # -delta_beta objective
        loss = nll
        prior_loss = None
        if ebm:
            prior_loss = self.prior.contrastive_loss(u_post, u_prior)  # -delta_alpha objective
            loss = loss + prior_loss
        opts = self.optimizers()
        opts = list(opts) if isinstance(opts, list | tuple) else [opts]
        for opt in opts:
            opt.zero_grad()
        self.manual_backward(loss)
        for opt in opts:
            if self.hparams.grad_clip is not None:
                self.clip_gradients(opt, gradient_clip_val=self.hparams.grad_clip, gradient_clip_algorithm="norm")
            opt.step()

        logs = {"train/nll": nll.detach(), **post_diag.as_dict("train/posterior"),
                **self.training_logs(x, u_post, u_prior)}
        if prior_loss is not None:
            logs |= {"train/prior_loss": prior_loss.detach(), **prior_diag.as_dict("train/prior")}
        self.log_dict(logs, on_step=True, on_epoch=False, batch_size=b)
        return loss.detach()

    def configure_optimizers(self) -> Any:
        betas = tuple(self.hparams.betas)
        gen_params = list(self.generator_parameters())
        prior_params = list(self.prior.parameters())
        ebm = is_energy_prior(self.prior)
        if not ebm:
            gen_params += prior_params  # e.g. UNetPrior's transform learns with the generator
        ids = [id(p) for p in gen_params]
        if len(set(ids)) != len(ids) or (ebm and set(ids) & {id(p) for p in prior_params}):
            raise ValueError(
                "generator_parameters() must not repeat parameters nor include the EBM prior's; "
                "the prior's parameters are added by configure_optimizers"
            )
        opt_g = torch.optim.Adam(gen_params, lr=self.hparams.generator_lr, betas=betas)
        if not ebm:
            return opt_g
        return [opt_g, torch.optim.Adam(prior_params, lr=self.hparams.prior_lr, betas=betas)]

    # ---- evaluation -------------------------------------------------------------------------------
    def _eval_step(self, batch: Any, stage: str) -> Tensor:
        x, idx = self.split_batch(batch)
        diag = Diagnostics()
        u = self.infer(x, schedule=self.eval_schedule, idx=idx, diagnostics=diag)
        with torch.no_grad():
            nll = -self.log_likelihood(_escape_inference(x), self.prior.transform(u)).mean()
        self.log_dict({f"{stage}/nll": nll, **diag.as_dict(f"{stage}/posterior")},
                      batch_size=self.batch_size_of(x), sync_dist=True)
        return nll

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._eval_step(batch, "test")

    # ---- checkpoints ------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        state = checkpoint[CKPT_KEY]
        state["langevin_calls"] = self._langevin_calls
        if self.chains is not None:
            state["posterior_chains"] = self.chains.state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        state = checkpoint.get(CKPT_KEY, {})
        self._langevin_calls = int(state.get("langevin_calls", 0))
        if self.chains is not None and "posterior_chains" in state:
            self.chains.load_state(state["posterior_chains"])
