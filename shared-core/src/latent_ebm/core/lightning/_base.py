"""What the base LightningModules share: a per-rank sampler RNG saved in checkpoints, noise keyed
by rank or by example, batch unpacking, settings coercion and sampler diagnostics.

RNG design: every module owns one CPU ``torch.Generator`` per rank, seeded ``seed + rank``. Bulk
noise is drawn on the module's device from the counter-based Philox stream of
:mod:`latent_ebm.core.ops`, keyed by a seed drawn from that generator, so the saved state is
device-independent and a resumed run replays the same noise on CPU or GPU.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Literal

import lightning as L
import torch
from torch import Tensor

from latent_ebm.core import ops
from latent_ebm.core.samplers import LangevinSchedule

__all__ = ["Diagnostics", "NoiseMode", "SeededModule", "as_schedule", "check_positive"]

NoiseMode = Literal["rank", "example"]
_SEED_HIGH = (1 << 63) - 1
_MASK64 = (1 << 64) - 1
CKPT_KEY = "latent_ebm"


def as_schedule(value: LangevinSchedule | Mapping[str, Any] | None, name: str) -> LangevinSchedule | None:
    """A LangevinSchedule from itself, from a dict of its fields (YAML, checkpoint hparams) or None."""
    if value is None or isinstance(value, LangevinSchedule):
        return value
    if isinstance(value, Mapping):
        try:
            return LangevinSchedule(**value)
        except TypeError as err:
            raise ValueError(f"{name}={dict(value)!r} is not allowed: {err}") from None
    raise ValueError(f"{name}={value!r} is not allowed; give a LangevinSchedule, a dict of its fields or None")


def check_positive(allow_zero: bool = False, **values: object) -> None:
    """ValueError naming the first value that is not a finite number > 0 (>= 0 with allow_zero)."""
    for name, v in values.items():
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        if not ok or v < 0 or (v == 0 and not allow_zero):
            rule = ">= 0" if allow_zero else "> 0"
            raise ValueError(f"{name}={v!r} is not allowed; it must be a finite number {rule}")


def _splitmix64(x: int) -> int:
    """A 64-bit mixing function (Steele, Lea, Flood 2014): distinct keys -> decorrelated seeds."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def example_seed(seed: int, stream: int, index: int) -> int:
    """The Philox seed of example ``index`` in ``stream`` (a small int naming what is drawn)."""
    return _splitmix64(_splitmix64(_splitmix64(seed & _MASK64) ^ stream) ^ (index & _MASK64)) & _SEED_HIGH


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

    ``seed=None`` takes the global seed of ``lightning.seed_everything`` (``PL_GLOBAL_SEED``), else
    0. Under DDP each rank's generator state is gathered in ``on_save_checkpoint`` (Lightning calls
    it on every rank) and every rank takes its own back on load; a resume on another world size
    reseeds from (seed, rank, step) with a warning.
    """

    def __init__(self) -> None:
        super().__init__()
        self._rng: torch.Generator | None = None
        self._rng_rank: int | None = None

    def save_base_hyperparameters(self, base_args: dict[str, Any]) -> None:
        """``save_hyperparameters()``, then the base class's own arguments it missed.

        ``save_hyperparameters`` records the outermost constructor's arguments (under LightningCLI,
        the config given for the subclass), so a base setting that a subclass passes through
        without re-declaring it would be absent from ``hparams``; it is filled in here.
        """
        self.save_hyperparameters()
        for name, value in base_args.items():
            if name not in ("self", "__class__") and name not in self.hparams:
                self.hparams[name] = value

    # ---- the sampler RNG --------------------------------------------------------------------
    @property
    def base_seed(self) -> int:
        seed = self.hparams.get("seed")
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
        return int(torch.randint(0, _SEED_HIGH, (), dtype=torch.int64, generator=gen, device=gen.device))

    def standard_normal(
        self,
        shape: tuple[int, ...],
        n: int,
        *,
        idx: Tensor | None = None,
        stream: int = 0,
        offset: int = 0,
        mode: NoiseMode = "rank",
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """N(0, I) draws (n, *shape) on the module's device.

        ``mode="rank"``: one Philox stream seeded from ``generator`` (default ``self.rng``).
        ``mode="example"``: row i comes from the stream keyed by (seed, ``stream``, ``idx[i]``) at
        ``offset``, independent of batch composition and world size (one small draw per example).
        """
        dtype = dtype or self.dtype
        if mode == "rank":
            return ops.philox_normal((n, *shape), self.draw_seed(generator), offset, self.device, dtype)
        if mode != "example":
            raise ValueError(f"mode={mode!r} is not allowed; use 'rank' or 'example'")
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

    @staticmethod
    def schedule_hparam(module: L.LightningModule, name: str) -> LangevinSchedule | None:
        """Coerce ``hparams[name]`` to a LangevinSchedule and store it back as a plain dict, so the
        checkpoint loads with ``weights_only=True``."""
        schedule = as_schedule(module.hparams[name], name)
        module.hparams[name] = None if schedule is None else asdict(schedule)
        return schedule

    # ---- checkpoints --------------------------------------------------------------------------
    def _gather_rows(self, t: Tensor) -> list[Tensor]:
        """Every rank's copy of ``t`` (a collective under DDP), as a list on CPU."""
        trainer = self._trainer
        if trainer is None or trainer.world_size == 1:
            return [t.detach().cpu().clone()]
        gathered = self.all_gather(t.to(self.device))  # (world, *t.shape)
        return [row.cpu().clone() for row in gathered]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = self.rng.get_state().to(torch.int64)  # int64: every backend all_gathers it
        rows = self._gather_rows(state)
        checkpoint.setdefault(CKPT_KEY, {})["rng"] = [r.to(torch.uint8) for r in rows]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get(CKPT_KEY, {}).get("rng")
        if not states:
            return
        world = self._trainer.world_size if self._trainer is not None else 1
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
        gen.manual_seed(example_seed(self.base_seed, 0x5EED, rank * 1_000_003 + step))
