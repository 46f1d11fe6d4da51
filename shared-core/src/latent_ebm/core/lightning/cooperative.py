"""Cooperative learning of an EBM and an initializer by MCMC teaching (CoopNets).

Xie, Lu, Gao, Wu, "Cooperative Learning of Energy-Based Model and Latent Variable Model via
MCMC Teaching", AAAI 2018; Xie, Lu, Gao, Zhu, Wu, "Cooperative Training of Descriptor and
Generator Networks", TPAMI 2020 (Algorithm 1). Each iteration:
    1. the initializer proposes x_hat = G(z) (here ``propose(batch, cond)``);
    2. Langevin on the EBM revises x_hat into x_tilde (``revise``);
    3. the EBM learns from data vs revised: descend mean E(x_data) - mean E(x_tilde)
       (the descriptor's likelihood gradient with x_tilde as its synthesis);
    4. the initializer learns to reproduce the revision: descend ||x_tilde - x_hat||² / (2 s²)
       (MCMC teaching: x_tilde is the target of the generator's regression).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from latent_ebm.core.checks import check_int, check_real
from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

from ._base import Diagnostics, NoiseMode, SeededModule
from .config import OptimConfig

__all__ = ["CooperativeModule"]

REVISION_DEFAULT = LangevinSchedule(n_steps=30, step_size=0.01)
COOP_OPTIM = OptimConfig(lr=1e-3, algorithm="adam", betas=(0.5, 0.999))  # CoopNets' Adam


class CooperativeModule(SeededModule):
    """Base LightningModule for an EBM and an initializer learned together (manual optimisation).

    A package provides ``energy(x, cond) -> (B,)``, ``propose(batch, cond) -> x_init``
    (differentiable w.r.t. the initializer; its noise from ``self.standard_normal``),
    ``energy_parameters()`` and ``initializer_parameters()``; it may override ``condition(batch)``
    (what the energy is conditioned on, drawn once per step; default None), ``data(batch, cond)``
    (the observed examples; default the batch's x), ``revise`` (default Langevin on the energy with
    ``revision``), ``energy_loss``, ``initializer_loss`` and ``training_logs``. The base runs each
    training step: condition, data, proposals, revision, both losses, ONE backward of their sum
    (disjoint parameters: samples detached) and every optimiser's clip and step
    (:meth:`step_optimizers`). A model without an initializer (DRL) returns no initializer
    parameters and ``initializer_loss`` None; it then has one optimiser.

    Args:
        revision: Langevin settings of the revision step.
        energy_optim, initializer_optim: the two optimisers (CoopNets: Adam, betas (0.5, 0.999)).
        initializer_sigma: s in the initializer's loss ||x_tilde - x_hat||² / (2 s²).
        init_noise, seed: see :class:`SeededModule`.
    """

    def __init__(
        self,
        *,
        revision: LangevinSchedule = REVISION_DEFAULT,
        energy_optim: OptimConfig = COOP_OPTIM,
        initializer_optim: OptimConfig = COOP_OPTIM,
        initializer_sigma: float = 1.0,
        init_noise: NoiseMode = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__(init_noise=init_noise, seed=seed)
        self.automatic_optimization = False
        check_real("initializer_sigma", initializer_sigma, low=0.0, low_open=True)
        self.revision_schedule = self.group(LangevinSchedule, revision, "revision")
        self.energy_optim = self.group(OptimConfig, energy_optim, "energy_optim")
        self.initializer_optim = self.group(OptimConfig, initializer_optim, "initializer_optim")
        self.initializer_sigma = float(initializer_sigma)
        self.require_moves(self.revision_schedule, "revision")

    # ---- what subclasses provide ---------------------------------------------------------------------
    def energy(self, x: Tensor, cond: Any) -> Tensor:
        """E(x | cond) per sample, (B,); p(x) ∝ exp(-E)."""
        raise NotImplementedError

    def propose(self, batch: Any, cond: Any) -> Tensor:
        """The initializer's proposals x_hat, same shape as ``data(batch, cond)``."""
        raise NotImplementedError

    def energy_parameters(self) -> Iterable[nn.Parameter]:
        raise NotImplementedError

    def initializer_parameters(self) -> Iterable[nn.Parameter]:
        raise NotImplementedError

    def condition(self, batch: Any) -> Any:
        """What the energy is conditioned on (e.g. a noise level); drawn once per step; default None."""
        return None

    def data(self, batch: Any, cond: Any) -> Tensor:
        """The observed examples the energy learns from, (B, ...): default the batch's x."""
        return self.split_batch(batch)[0]

    def training_logs(self, x: Tensor, x_init: Tensor, x_revised: Tensor, cond: Any) -> dict[str, Tensor]:
        """Extra values to log each training step; default none."""
        return {}

    # ---- the cooperative step ---------------------------------------------------------------------------
    def revise(self, x_init: Tensor, cond: Any, *, diagnostics: Diagnostics | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """x_tilde: Langevin on E(. | cond) from x_init (detached), with ``revision``."""
        return langevin_from_schedule(lambda v: self.energy(v, cond), x_init.detach(), self.revision_schedule,
                                      generator=generator or self.rng, callback=diagnostics)

    def energy_loss(self, x_data: Tensor, x_revised: Tensor, cond: Any) -> tuple[Tensor, dict[str, Tensor]]:
        """(mean E(x_data) - mean E(x_tilde), logs): its gradient is minus the EBM's likelihood
        gradient (TPAMI 2020, Algorithm 1, the descriptor's update)."""
        loss = self.energy(x_data, cond).mean() - self.energy(x_revised.detach(), cond).mean()
        return loss, {}

    def initializer_loss(self, x_init: Tensor, x_revised: Tensor, cond: Any) -> Tensor | None:
        """||x_tilde - x_hat||² / (2 s²) per example, averaged over the batch (MCMC teaching);
        None for a model without an initializer."""
        diff = (x_revised.detach() - x_init).flatten(1)
        return diff.square().sum(dim=1).mean() / (2.0 * self.initializer_sigma**2)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        cond = self.condition(batch)
        x = self.data(batch, cond)
        x_init = self.propose(batch, cond)
        diag = Diagnostics()
        x_rev = self.revise(x_init, cond, diagnostics=diag)
        loss_e, logs = self.energy_loss(x, x_rev, cond)
        loss_g = self.initializer_loss(x_init, x_rev, cond)
        self.step_optimizers(loss_e if loss_g is None else loss_e + loss_g)
        self.iterations += 1
        with torch.no_grad():
            shift = (x_rev - x_init.detach()).flatten(1).norm(dim=1).mean()
        logs = {"train/energy_loss": loss_e.detach(), "train/revision_shift": shift, **logs,
                **diag.as_dict("train/revision")}
        if loss_g is not None:
            logs["train/initializer_loss"] = loss_g.detach()
        logs |= self.training_logs(x, x_init, x_rev, cond)
        self.log_dict(logs, on_step=True, on_epoch=False, batch_size=x.shape[0])
        return (loss_e if loss_g is None else loss_e + loss_g).detach()

    def optimizer_groups(self) -> list[tuple[list[nn.Parameter], OptimConfig]]:
        e_params, g_params = list(self.energy_parameters()), list(self.initializer_parameters())
        if {id(p) for p in e_params} & {id(p) for p in g_params}:
            raise ValueError("energy_parameters() and initializer_parameters() must be disjoint")
        groups = [(e_params, self.energy_optim)]
        return groups + [(g_params, self.initializer_optim)] if g_params else groups

    def sample_proposals(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` proposals from the initializer's own noise (no batch), (n, ...): for
        :meth:`sample`. A model that only proposes from an input (a translator) leaves it out."""
        raise NotImplementedError(
            f"{type(self).__name__} proposes from a batch only; override sample_proposals to sample without one"
        )

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples of the model, (n, ...): :meth:`sample_proposals` revised by Langevin
        (CoopNets' synthesis). A model may extend the signature (conditions, guidance)."""
        check_int("n", n, low=1)
        with torch.no_grad():
            x_init = self.sample_proposals(n, generator=generator)
        return self.revise(x_init, None, generator=generator)

    def eval_step(self, batch: Any, stage: str) -> Tensor:
        """The energy gap mean E(data) - mean E(revised proposals), logged as ``<stage>/energy_gap``."""
        cond = self.condition(batch)
        x = self.data(batch, cond)
        with torch.no_grad():
            x_init = self.propose(batch, cond)
        diag = Diagnostics()
        x_rev = self.revise(x_init, cond, diagnostics=diag)
        with torch.no_grad():
            gap, _ = self.energy_loss(x, x_rev, cond)
        self.log_dict({f"{stage}/energy_gap": gap, **diag.as_dict(f"{stage}/revision")}, batch_size=x.shape[0],
                      sync_dist=True)
        return gap

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        return self.eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> Any:
        return self.eval_step(batch, "test")
