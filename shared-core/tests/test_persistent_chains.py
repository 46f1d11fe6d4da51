"""PersistentChains: re-initialisation rate, write-back, checkpoint round trip, per-rank shards."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from latent_ebm.core.samplers import PersistentChains


def test_reinit_fraction_matches_reinit_prob():
    chains = PersistentChains(2000, (3,), reinit_prob=0.3)
    gen = torch.Generator().manual_seed(0)
    fractions = []
    for _ in range(5):
        chains.update(torch.arange(2000), torch.full((2000, 3), 100.0))
        x0, idx = chains.sample(2000, generator=gen)
        assert idx.unique().numel() == 2000  # distinct chains
        fresh = (x0 != 100.0).all(dim=1)
        assert ((x0 == 100.0).all(dim=1) | fresh).all()  # whole rows are either kept or renewed
        fractions.append(fresh.double().mean().item())
    # Standard error over 10000 draws: ~0.005.
    assert sum(fractions) / 5 == pytest.approx(0.3, abs=0.02)


def test_sample_update_round_trip_and_init_kinds():
    chains = PersistentChains(50, 4, reinit_prob=0.0, init="uniform")
    assert chains.chains.shape == (50, 4)
    assert chains.chains.min() >= -1 and chains.chains.max() <= 1
    gen = torch.Generator().manual_seed(1)
    x0, idx = chains.sample(10, generator=gen)
    assert torch.equal(x0, chains.chains[idx])
    chains.update(idx, x0 + 5.0)
    assert torch.equal(chains.chains[idx], x0 + 5.0)
    custom = PersistentChains(6, (2, 2), reinit_prob=1.0, init=lambda n, g: torch.full((n, 2, 2), 3.0))
    x0, _ = custom.sample(4)
    assert torch.equal(x0, torch.full((4, 2, 2), 3.0))


def test_same_generator_same_draw():
    chains = PersistentChains(100, 2, reinit_prob=0.5)
    a = chains.sample(20, generator=torch.Generator().manual_seed(3))
    b = chains.sample(20, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_state_dict_round_trip():
    torch.manual_seed(0)
    src = PersistentChains(30, (2, 3))
    src.update(torch.tensor([0, 1]), torch.ones(2, 2, 3))
    state = src.state_dict()
    assert set(state) == {"chains"}
    torch.manual_seed(1)
    dst = PersistentChains(30, (2, 3))
    assert not torch.equal(dst.chains, src.chains)
    dst.load_state_dict(state)
    assert torch.equal(dst.chains, src.chains)
    shards = src.gather_shards()
    assert shards.shape == (1, 30, 2, 3)
    other = PersistentChains(30, (2, 3))
    other.load_shards(shards)
    assert torch.equal(other.chains, src.chains)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"capacity": 0}, "capacity"),
        ({"shape": (2, 0)}, "shape"),
        ({"reinit_prob": 1.5}, "reinit_prob"),
        ({"reinit_prob": float("nan")}, "reinit_prob"),
        ({"init": "laplace"}, "init"),
    ],
)
def test_bad_constructor_arguments(kwargs, name):
    args = {"capacity": 10, "shape": 2, **kwargs}
    with pytest.raises(ValueError, match=name):
        PersistentChains(**args)


def test_bad_sample_and_update_arguments():
    chains = PersistentChains(10, 2)
    with pytest.raises(ValueError, match="batch_size"):
        chains.sample(11)
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        chains.update(torch.arange(3), torch.zeros(3, 5))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        chains = PersistentChains(8, 3)
        chains.update(torch.arange(8), torch.full((8, 3), float(rank)))  # shard r holds r
        shards = chains.gather_shards()  # what on_save_checkpoint stores
        fresh = PersistentChains(8, 3)
        fresh.load_shards(shards)  # what on_load_checkpoint restores
        out[rank] = (shards.clone(), fresh.chains.clone(), set(chains.state_dict()))
    finally:
        dist.destroy_process_group()


@pytest.mark.ddp
def test_shards_gather_and_restore_per_rank():
    world = 2
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_ddp_worker, args=(world, _free_port(), out), nprocs=world, join=True)
        results = dict(out)
    for rank in range(world):
        shards, restored, keys = results[rank]
        assert shards.shape == (world, 8, 3)
        assert torch.equal(shards[:, 0, 0], torch.arange(world, dtype=torch.float32))
        assert torch.equal(restored, torch.full((8, 3), float(rank)))
        assert keys == {"chains"}
