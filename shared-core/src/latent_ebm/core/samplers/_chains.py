"""Persistent chains: a replay buffer of Langevin states (PCD, Tieleman 2008; the buffer with
re-initialisation of Du & Mordatch 2019, sec. 3.1, "sample replay buffer", 5% fresh noise).

Distributed training: each rank owns its own buffer (its shard) and should sample with its own
generator (e.g. seeded ``seed + rank``); ``state_dict()`` holds the local shard only and never
communicates. Lightning writes checkpoints from rank 0, so a plain checkpoint keeps rank 0's shard
and on resume every rank restarts from that one shard. To keep every shard, call
:meth:`PersistentChains.gather_shards` on every rank in ``on_save_checkpoint`` (Lightning calls
that hook on all ranks) and :meth:`PersistentChains.load_shards` in ``on_load_checkpoint``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import Tensor, nn

from latent_ebm.core.checks import as_shape, check_int, check_real

__all__ = ["PersistentChains"]

InitFn = Callable[[int, "torch.Generator | None"], Tensor]


def _rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class PersistentChains(nn.Module):
    """A buffer of ``capacity`` chains of shape ``shape``, sampled and written back each step.

    ``init``: ``"gaussian"`` (N(0, I)), ``"uniform"`` (U(-1, 1)) or a callable
    ``init(n, generator) -> Tensor (n, *shape)``. The buffer ``chains`` (capacity, *shape) is a
    registered buffer: it follows ``.to(device)`` and lands in ``state_dict``. Its initial fill
    uses the global RNG (so ``seed_everything`` fixes it).
    """

    chains: Tensor

    def __init__(
        self,
        capacity: int,
        shape: int | tuple[int, ...],
        reinit_prob: float = 0.05,
        init: str | InitFn = "gaussian",
    ) -> None:
        super().__init__()
        check_int("capacity", capacity, low=1)
        check_real("reinit_prob", reinit_prob, low=0.0, high=1.0)
        if not callable(init) and init not in ("gaussian", "uniform"):
            raise ValueError(
                f"init={init!r} is not allowed; use 'gaussian', 'uniform' or a callable (n, generator)"
            )
        self.capacity, self.shape = capacity, as_shape(shape)
        self.reinit_prob, self.init = float(reinit_prob), init
        self.register_buffer("chains", self._fresh(capacity, None, torch.device("cpu")))

    def _fresh(self, n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
        """(n, *shape) new chain starts, drawn on the generator's device, moved to ``device``."""
        gen_device = generator.device if generator is not None else device
        if self.init == "gaussian":
            out = torch.randn((n, *self.shape), generator=generator, device=gen_device)
        elif self.init == "uniform":
            out = torch.rand((n, *self.shape), generator=generator, device=gen_device) * 2 - 1
        else:
            out = self.init(n, generator)
            if not isinstance(out, Tensor) or tuple(out.shape) != (n, *self.shape):
                got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise ValueError(f"init(n={n}) returned {got}; it must return shape {(n, *self.shape)}")
        dtype = self.chains.dtype if hasattr(self, "chains") else torch.float32
        return out.to(device=device, dtype=dtype)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """(x0 (batch_size, *shape), idx (batch_size,)): distinct random chains, each replaced by a
        fresh start with probability ``reinit_prob``. No host sync."""
        check_int("batch_size", batch_size, low=1, high=self.capacity)
        device = self.chains.device
        gen_device = generator.device if generator is not None else device
        # Distinct indices, so update() writes each chain at most once.
        idx = torch.randperm(self.capacity, generator=generator, device=gen_device)[:batch_size]
        reinit = torch.rand(batch_size, generator=generator, device=gen_device) < self.reinit_prob
        idx, reinit = idx.to(device), reinit.to(device)
        fresh = self._fresh(batch_size, generator, device)
        x0 = torch.where(reinit.view(-1, *([1] * len(self.shape))), fresh, self.chains[idx])
        return x0, idx

    @torch.no_grad()
    def update(self, idx: Tensor, x: Tensor) -> None:
        """Write revised chains ``x`` (len(idx), *shape) back at ``idx`` (detached)."""
        if not isinstance(idx, Tensor) or idx.dim() != 1:
            raise ValueError(f"idx must be a 1-d index tensor, got {idx!r}")
        if not isinstance(x, Tensor) or tuple(x.shape) != (idx.shape[0], *self.shape):
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x has shape {got}; it must be {(idx.shape[0], *self.shape)}")
        self.chains[idx.to(self.chains.device)] = x.detach().to(self.chains)

    def gather_shards(self) -> Tensor:
        """(world_size, capacity, *shape): every rank's buffer. A collective: call on all ranks.
        Without torch.distributed, the local buffer with a leading dim of 1."""
        _, world = _rank_and_world()
        if world == 1:
            return self.chains.detach().clone().unsqueeze(0)
        parts = [torch.empty_like(self.chains) for _ in range(world)]
        dist.all_gather(parts, self.chains.contiguous())
        return torch.stack(parts)

    @torch.no_grad()
    def load_shards(self, shards: Tensor) -> None:
        """Load this rank's shard from :meth:`gather_shards` output (rank r takes r mod count,
        so a resume on a different world size still gives every rank a saved shard)."""
        if not isinstance(shards, Tensor) or tuple(shards.shape[1:]) != tuple(self.chains.shape):
            got = tuple(shards.shape) if isinstance(shards, Tensor) else type(shards).__name__
            raise ValueError(f"shards has shape {got}; it must be (n_shards, {self.capacity}, *{self.shape})")
        rank, _ = _rank_and_world()
        self.chains.copy_(shards[rank % shards.shape[0]])

    def extra_repr(self) -> str:
        init = self.init if isinstance(self.init, str) else getattr(self.init, "__name__", "callable")
        return f"capacity={self.capacity}, shape={self.shape}, reinit_prob={self.reinit_prob}, init={init}"
