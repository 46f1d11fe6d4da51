"""Cooperative learning of an EBM and an initializer by MCMC teaching (CoopNets).

Xie, Lu, Gao, Wu, "Cooperative Learning of Energy-Based Model and Latent Variable Model via
MCMC Teaching", AAAI 2018; Xie, Lu, Gao, Zhu, Wu, "Cooperative Training of Descriptor and
Generator Networks", TPAMI 2020 (Algorithm 1). Each iteration:
    1. the initializer proposes x_hat = G(z) (here ``propose(batch)``);
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

from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

from ._base import Diagnostics, SeededModule, check_positive

__all__ = ["CooperativeModule"]

REVISION_DEFAULT = LangevinSchedule(n_steps=30, step_size=0.01)


class CooperativeModule(SeededModule):
    """Base LightningModule for an EBM and an initializer learned together (manual optimisation).

    Subclasses provide ``energy(x, cond) -> (B,)``, ``propose(batch) -> x_init`` (differentiable
    w.r.t. the initializer; draw its noise from ``self.rng`` / ``self.standard_normal``),
    ``data(batch) -> x``, ``energy_parameters()`` and ``initializer_parameters()``; they may
    override ``condition(batch)`` (default None), ``revise`` (default Langevin on the energy) and
    the two losses. Both losses read detached samples, so they touch disjoint parameters: one
    backward of their sum equals two separate backwards, with one DDP reduction
    (``cooperative_update``, which a subclass overriding ``training_step`` should call).

    Args:
        revision: Langevin settings of the revision step.
        energy_lr, initializer_lr, betas: Adam settings of the two optimisers.
        initializer_sigma: s in the initializer's loss ||x_tilde - x_hat||² / (2 s²).
        grad_clip: max global grad norm per optimiser (None: no clipping).
        seed: base seed of the per-rank generator (None: the global seed).
    """

    def __init__(
        self,
        *,
        revision: LangevinSchedule = REVISION_DEFAULT,
        energy_lr: float = 1e-3,
        initializer_lr: float = 1e-3,
        betas: tuple[float, float] = (0.5, 0.999),
        initializer_sigma: float = 1.0,
        grad_clip: float | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.save_base_hyperparameters(dict(locals()))
        self.automatic_optimization = False
        check_positive(energy_lr=energy_lr, initializer_lr=initializer_lr, initializer_sigma=initializer_sigma)
        if grad_clip is not None:
            check_positive(grad_clip=grad_clip)
        self.revision_schedule = self.schedule_hparam(self, "revision")
        if self.revision_schedule is None:
            raise ValueError("revision=None is not allowed; give a LangevinSchedule")

    # ---- what subclasses provide ---------------------------------------------------------------------
    def energy(self, x: Tensor, cond: Any) -> Tensor:
        """E(x | cond) per sample, (B,); p(x) ∝ exp(-E)."""
        raise NotImplementedError

    def propose(self, batch: Any) -> Tensor:
        """The initializer's proposals x_hat, same shape as ``data(batch)``."""
        raise NotImplementedError

    def data(self, batch: Any) -> Tensor:
        """The observed examples x, (B, ...)."""
        raise NotImplementedError

    def energy_parameters(self) -> Iterable[nn.Parameter]:
        raise NotImplementedError

    def initializer_parameters(self) -> Iterable[nn.Parameter]:
        raise NotImplementedError

    def condition(self, batch: Any) -> Any:
        """What the energy is conditioned on (e.g. a noise level); default None."""
        return None

    # ---- the cooperative step ---------------------------------------------------------------------------
    def revise(self, x_init: Tensor, cond: Any, *, diagnostics: Diagnostics | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """x_tilde: Langevin on E(. | cond) from x_init (detached), with ``revision``."""
        return langevin_from_schedule(lambda v: self.energy(v, cond), x_init.detach(), self.revision_schedule,
                                      generator=generator or self.rng, callback=diagnostics)

    def energy_loss(self, x_data: Tensor, x_revised: Tensor, cond: Any) -> Tensor:
        """mean E(x_data) - mean E(x_tilde): its gradient is minus the EBM's likelihood gradient."""
        return self.energy(x_data, cond).mean() - self.energy(x_revised.detach(), cond).mean()

    def initializer_loss(self, x_init: Tensor, x_revised: Tensor) -> Tensor:
        """||x_tilde - x_hat||² / (2 s²) per example, averaged over the batch."""
        diff = (x_revised.detach() - x_init).flatten(1)
        return diff.square().sum(dim=1).mean() / (2.0 * self.hparams.initializer_sigma**2)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x = self.data(batch)
        cond = self.condition(batch)
        x_init = self.propose(batch)
        diag = Diagnostics()
        x_rev = self.revise(x_init, cond, diagnostics=diag)
        loss_e = self.energy_loss(x, x_rev, cond)
        loss_g = self.initializer_loss(x_init, x_rev)
        self.cooperative_update(loss_e, loss_g)
        with torch.no_grad():
            shift = (x_rev - x_init.detach()).flatten(1).norm(dim=1).mean()
        self.log_dict({"train/energy_loss": loss_e.detach(), "train/initializer_loss": loss_g.detach(),
                       "train/revision_shift": shift, **diag.as_dict("train/revision")},
                      on_step=True, on_epoch=False, batch_size=x.shape[0])
        return (loss_e + loss_g).detach()

    def cooperative_update(self, energy_loss: Tensor, initializer_loss: Tensor | None) -> None:
        """One optimisation step of both networks: ONE ``manual_backward`` of the summed losses.

        The losses touch disjoint parameters, so the sum's gradient is each loss's own; one
        backward is one DDP reduction, complete before either optimiser steps (with two
        backwards, the first optimiser could step while buckets it shares with the other
        network's parameters are still unreduced). Then per optimiser, in order: grad-norm clip
        (``hparams.grad_clip``, None: none) and ``step``; then each LR scheduler returned by
        ``configure_optimizers``, if any, steps once. ``initializer_loss=None``: the energy
        alone, for a subclass with no initializer and one optimiser.
        """
        opts = self.optimizers()
        opts = list(opts) if isinstance(opts, list | tuple) else [opts]
        want = 1 if initializer_loss is None else 2
        if len(opts) != want:
            raise ValueError(
                f"cooperative_update got {'no' if initializer_loss is None else 'an'} initializer loss "
                f"but configure_optimizers returned {len(opts)} optimiser(s); expected {want}"
            )
        for opt in opts:
            opt.zero_grad()
        self.manual_backward(energy_loss if initializer_loss is None else energy_loss + initializer_loss)
        clip = self.hparams.get("grad_clip")
        for opt in opts:
            if clip is not None:
                self.clip_gradients(opt, gradient_clip_val=clip, gradient_clip_algorithm="norm")
            opt.step()
        schedulers = self.lr_schedulers()
        if schedulers is not None:
            for sch in schedulers if isinstance(schedulers, list) else [schedulers]:
                sch.step()

    def configure_optimizers(self) -> Any:
        betas = tuple(self.hparams.betas)
        e_params, g_params = list(self.energy_parameters()), list(self.initializer_parameters())
        if {id(p) for p in e_params} & {id(p) for p in g_params}:
            raise ValueError("energy_parameters() and initializer_parameters() must be disjoint")
        return [torch.optim.Adam(e_params, lr=self.hparams.energy_lr, betas=betas),
                torch.optim.Adam(g_params, lr=self.hparams.initializer_lr, betas=betas)]

    @torch.no_grad()
    def sample(self, batch: Any, *, generator: torch.Generator | None = None) -> Tensor:
        """Revised samples x_tilde for the proposals of ``batch`` (the model's synthesis)."""
        return self.revise(self.propose(batch), self.condition(batch), generator=generator)

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, cond = self.data(batch), self.condition(batch)
        with torch.no_grad():
            x_init = self.propose(batch)
        diag = Diagnostics()
        x_rev = self.revise(x_init, cond, diagnostics=diag)
        with torch.no_grad():
            gap = self.energy_loss(x, x_rev, cond)
        self.log_dict({"val/energy_gap": gap, **diag.as_dict("val/revision")}, batch_size=x.shape[0],
                      sync_dist=True)
        return gap
