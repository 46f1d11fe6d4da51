"""What the base LightningModules share: the per-rank sampler RNG saved in checkpoints, noise keyed
by rank or by example, the training-iteration counter, batch unpacking, groups in hyperparameters,
one optimiser step for manual optimisation, and sampler diagnostics.

RNG design: every module owns one CPU ``torch.Generator`` per rank, seeded ``seed + rank``. Bulk
noise is drawn on the module's device from the counter-based Philox stream of
:mod:`latent_ebm.core.ops`, keyed by a seed drawn from that generator, so the saved state is
device-independent and a resumed run replays the same noise on CPU or GPU.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import lightning as L
import torch
from torch import Tensor, nn

from latent_ebm.core import ops
from latent_ebm.core.checks import check_choice, check_int, check_real
from latent_ebm.core.rng import SEED_HIGH, example_seed, register_stream

from .config import OptimConfig, as_config, config_dict
from .optim import build_optimizer

__all__ = ["Diagnostics", "NoiseMode", "SeededModule"]

NoiseMode = Literal["rank", "example"]
CKPT_KEY = "latent_ebm"  # the core's entry in a checkpoint dict; packages use checkpoint_state()
_RESEED_STREAM = register_stream("core.reseed", 0x5EED)


class Diagnostics:
    """A Langevin ``callback`` keeping the last step's mean energy and gradient norm and the
    running acceptance (MALA), all on device (no host sync). ``as_dict(prefix)`` for logging."""

    def __init__(self) -> None:
        self.energy: Tensor | None = None
        self.grad_norm: Tensor | None = None
        self._accepted: Tensor | None = None
        self._n = 0

    def __call__(self, record: dict[str, Any]) -> None:
        self.energy = record["energy"].detach().mean()
        if record.get("grad_norm") is not None:
            self.grad_norm = record["grad_norm"].detach().mean()
        if record.get("accepted") is not None:
            acc = record["accepted"].float().mean()
            self._accepted = acc if self._accepted is None else self._accepted + acc
            self._n += 1

    def as_dict(self, prefix: str) -> dict[str, Tensor]:
        out = {}
        if self.energy is not None:
            out[f"{prefix}_energy"] = self.energy
        if self.grad_norm is not None:
            out[f"{prefix}_grad_norm"] = self.grad_norm
        if self._accepted is not None:
            out[f"{prefix}_acceptance"] = self._accepted / self._n
        return out


class SeededModule(L.LightningModule):
    """A LightningModule with a per-rank sampler RNG (``self.rng``) restored exactly on resume.

    Args:
        init_noise: ``"rank"`` draws chain starts and other per-example noise from the per-rank
            generator; ``"example"`` keys them by example index (:func:`~latent_ebm.core.rng.
            example_seed`), so they do not depend on batch split or world size.
        seed: base seed of the generator; None takes the global seed of
            ``lightning.seed_everything`` (``PL_GLOBAL_SEED``), else 0.

    Under DDP each rank's generator state is gathered in ``on_save_checkpoint`` (Lightning calls
    it on every rank) and every rank takes its own back on load; a resume on another world size
    reseeds from (seed, rank, step) with a warning. ``iterations`` counts training steps (the
    offset of example-keyed draws) and is checkpointed. A subclass adds its own state to the
    checkpoint through :meth:`checkpoint_state` / :meth:`load_checkpoint_state`.

    Settings live in attributes (the base's groups) and the subclass's constructor arguments in
    ``hparams``: a package calls ``self.save_hyperparameters()`` after ``super().__init__``, and
    groups are stored there as plain dicts, so checkpoints load with ``weights_only=True``.
    """

    def __init__(self, *, init_noise: NoiseMode = "rank", seed: int | None = None) -> None:
        super().__init__()
        check_choice("init_noise", init_noise, ("rank", "example"))
        check_int("seed", seed, allow_none=True)
        self.init_noise: NoiseMode = init_noise
        self.seed = seed
        self.iterations = 0
        self._rng: torch.Generator | None = None
        self._rng_rank: int | None = None
        self._grad_clips: list[float | None] = []

    @staticmethod
    def require_moves(schedule: Any, name: str) -> None:
        """A Langevin schedule that learning depends on must move: n_steps >= 1 and step_size > 0."""
        if schedule is not None:
            check_int(f"{name}.n_steps", schedule.n_steps, low=1)
            check_real(f"{name}.step_size", schedule.step_size, low=0.0, low_open=True)

    def group(self, cls: type, value: Any, name: str, *, allow_none: bool = False) -> Any:
        """A settings group from ``value`` (an instance, a dict or None); a dict overrides the
        default that the most derived constructor declares for ``name``, as LightningCLI does."""
        return as_config(cls, value, name, allow_none=allow_none, default=self._declared_default(name))

    def _declared_default(self, name: str) -> Any:
        for klass in type(self).__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            param = inspect.signature(init).parameters.get(name)
            if param is not None and param.default is not inspect.Parameter.empty:
                return param.default
        return None

    def save_hyperparameters(self, *args: Any, ignore: Any = None, frame: Any = None, logger: bool = True) -> None:
        """Lightning's ``save_hyperparameters``, with dataclass groups stored as plain dicts."""
        if frame is None:
            frame = inspect.currentframe().f_back
        super().save_hyperparameters(*args, ignore=ignore, frame=frame, logger=logger)
        for store in (self._hparams, getattr(self, "_hparams_initial", None)):
            if store is not None:
                for key in list(store):
                    store[key] = config_dict(store[key])

    # ---- the sampler RNG --------------------------------------------------------------------
    @property
    def base_seed(self) -> int:
        seed = self.seed
        if seed is None:
            seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
        return int(seed)

    @property
    def rng(self) -> torch.Generator:
        """This rank's generator (CPU), created on first use from ``seed + global_rank``."""
        rank = self.global_rank
        if self._rng is None or self._rng_rank != rank:
            self._rng = torch.Generator().manual_seed(self.base_seed + rank)
            self._rng_rank = rank
        return self._rng

    def draw_seed(self, generator: torch.Generator | None = None) -> int:
        """One int64 seed for a Philox stream, drawn from ``generator`` (default ``self.rng``)."""
        gen = self.rng if generator is None else generator
        return int(torch.randint(0, SEED_HIGH, (), dtype=torch.int64, generator=gen, device=gen.device))

    def standard_normal(
        self,
        shape: tuple[int, ...],
        n: int,
        *,
        idx: Tensor | None = None,
        stream: int = 0,
        offset: int | None = None,
        mode: NoiseMode | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """N(0, I) draws (n, *shape) on the module's device.

        ``mode="rank"``: one Philox stream seeded from ``generator`` (default ``self.rng``).
        ``mode="example"``: row i comes from the stream keyed by (seed, ``stream``, ``idx[i]``),
        independent of batch composition and world size. Both read the stream at ``offset``
        (default: ``iterations``, so each training step draws fresh example-keyed noise).
        ``mode=None`` follows ``init_noise``, falling back to ``"rank"`` where no indices (or an
        explicit generator) are given.
        """
        dtype = dtype or self.dtype
        if mode is None:
            mode = "example" if self.init_noise == "example" and idx is not None and generator is None else "rank"
        offset = self.iterations if offset is None else offset
        if mode == "rank":
            return ops.philox_normal((n, *shape), self.draw_seed(generator), offset, self.device, dtype)
        check_choice("mode", mode, ("rank", "example"))
        if idx is None or idx.numel() != n:
            raise ValueError(
                f"init_noise='example' needs the batch's example indices (n={n}); got idx={idx!r}. "
                "Give batches as (x, index) or {'x': ..., 'index': ...}, or use init_noise='rank'"
            )
        rows = [
            ops.philox_normal(shape, example_seed(self.base_seed, stream, int(i)), offset, self.device, dtype)
            for i in idx.tolist()
        ]
        return torch.stack(rows)

    # ---- batches ------------------------------------------------------------------------------
    def split_batch(self, batch: Any) -> tuple[Any, Tensor | None]:
        """(x, example indices or None) from a batch: ``x``, ``(x,)``, ``(x, index)`` or a mapping with
        ``"x"`` and optional ``"index"``. Override for other layouts (x may be any object the
        subclass's likelihood reads)."""
        if isinstance(batch, Tensor):
            return batch, None
        if isinstance(batch, tuple | list) and len(batch) == 1:  # TensorDataset(x)
            return batch[0], None
        if isinstance(batch, Mapping) and "x" in batch:
            return batch["x"], batch.get("index")
        if isinstance(batch, tuple | list) and len(batch) == 2 and isinstance(batch[1], Tensor) and (
            not batch[1].is_floating_point()
        ):
            return batch[0], batch[1]
        raise ValueError(
            f"batch of type {type(batch).__name__} is not understood; give a Tensor x, (x, index) or "
            "{'x': ..., 'index': ...}, or override split_batch"
        )

    @staticmethod
    def batch_size_of(x: Any) -> int:
        """Number of examples in x: the leading dim of x or of the first tensor in a mapping."""
        if isinstance(x, Tensor):
            return x.shape[0]
        if isinstance(x, Mapping):
            for v in x.values():
                if isinstance(v, Tensor):
                    return v.shape[0]
        raise ValueError(f"cannot tell the batch size of {type(x).__name__}; override batch_size_of")

    # ---- optimisers ---------------------------------------------------------------------------
    def optimizer_groups(self) -> list[tuple[Iterable[nn.Parameter], OptimConfig]]:
        """(parameters, settings) of each optimiser, in order; each base defines its own."""
        raise NotImplementedError

    def decay_exempt_parameters(self) -> Iterable[nn.Parameter]:
        """Parameters that never get weight decay, whatever their optimiser's ``decay`` (default:
        none; the LPT code decays only its decoder's matrices)."""
        return ()

    def configure_optimizers(self) -> Any:
        """One optimiser (and LR scheduler, stepped per optimiser step) per :meth:`optimizer_groups`."""
        groups = self.optimizer_groups()
        total = self._schedule_length(len(groups))
        exempt = list(self.decay_exempt_parameters())
        built = [build_optimizer(params, cfg, total_steps=total, exempt=exempt) for params, cfg in groups]
        self._grad_clips = [cfg.grad_clip for _, cfg in groups]
        opts = [opt for opt, _ in built]
        scheds = [{"scheduler": s, "interval": "step"} for _, s in built if s is not None]
        if len(opts) == 1:
            return {"optimizer": opts[0], "lr_scheduler": scheds[0]} if scheds else opts[0]
        return (opts, scheds) if scheds else opts

    def _schedule_length(self, n_optimizers: int) -> int | None:
        """Optimiser steps of the whole run, from the Trainer (for a cosine with ``max_steps=None``);
        under manual optimisation Lightning counts every optimiser's step in ``global_step``."""
        trainer = self._trainer
        if trainer is None:
            return None
        if trainer.max_steps and trainer.max_steps > 0:
            steps = trainer.max_steps
            return steps if self.automatic_optimization else max(1, steps // n_optimizers)
        try:
            return int(trainer.estimated_stepping_batches)
        except Exception:  # no data attached yet (e.g. configure_optimizers called by hand)
            return None

    def step_optimizers(self, loss: Tensor) -> None:
        """One update of every optimiser from ONE ``manual_backward`` of ``loss`` (manual
        optimisation): zero_grad all, backward (one DDP reduction, complete before any step),
        then per optimiser its own grad-norm clip and step, then every LR scheduler steps once.

        The losses summed into ``loss`` must touch disjoint parameter sets where each should get
        only its own gradient (samples detached), which every base ensures."""
        opts = self.optimizers()
        opts = list(opts) if isinstance(opts, list | tuple) else [opts]
        clips = self._grad_clips or [None] * len(opts)
        for opt in opts:
            opt.zero_grad()
        self.manual_backward(loss)
        for opt, clip in zip(opts, clips):
            if clip is not None:
                self.clip_gradients(opt, gradient_clip_val=clip, gradient_clip_algorithm="norm")
            opt.step()
        schedulers = self.lr_schedulers()
        if schedulers is not None:
            for sch in schedulers if isinstance(schedulers, list) else [schedulers]:
                sch.step()

    # ---- checkpoints --------------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        """State saved with every checkpoint beside the weights; extend with ``super()`` (tensors,
        numbers, strings, lists and dicts of them only, so ``weights_only`` loading works)."""
        return {"iterations": self.iterations}

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`checkpoint_state` saved; extend with ``super()``."""
        self.iterations = int(state.get("iterations", 0))

    def _gather_rows(self, t: Tensor) -> list[Tensor]:
        """Every rank's copy of ``t`` (a collective under DDP), as a list on CPU."""
        trainer = self._trainer
        if trainer is None or trainer.world_size == 1:
            return [t.detach().cpu().clone()]
        gathered = self.all_gather(t.to(self.device))  # (world, *t.shape)
        return [row.cpu().clone() for row in gathered]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        rows = self._gather_rows(self.rng.get_state().to(torch.int64))  # int64: every backend all_gathers it
        # torch's global CPU generator too (dropout masks, unseeded shuffles): Lightning does not save it
        global_rows = self._gather_rows(torch.get_rng_state().to(torch.int64))
        checkpoint[CKPT_KEY] = {**self.checkpoint_state(), "rng": [r.to(torch.uint8) for r in rows],
                                "torch_rng": [r.to(torch.uint8) for r in global_rows]}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get(CKPT_KEY, {})
        self.load_checkpoint_state(state)
        world = self._trainer.world_size if self._trainer is not None else 1
        global_states = state.get("torch_rng")
        if global_states and len(global_states) == world and self._trainer is not None:
            torch.set_rng_state(global_states[self.global_rank].clone())
        states = state.get("rng")
        if not states:
            return
        rank = self.global_rank
        gen = self.rng
        if len(states) == world:
            gen.set_state(states[rank].clone())
            return
        step = int(checkpoint.get("global_step", 0))
        warnings.warn(
            f"checkpoint holds sampler RNG states of {len(states)} ranks, this run has {world}; "
            f"reseeding each rank from (seed, rank, step={step})",
            stacklevel=2,
        )
        gen.manual_seed(example_seed(self.base_seed, _RESEED_STREAM, rank * 1_000_003 + step))
