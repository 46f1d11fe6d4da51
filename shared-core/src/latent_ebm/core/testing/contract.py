"""Checks every LightningModule of the suite should pass: exact resume and DDP equivalence.

Use the functions directly or subclass :class:`ModuleContract` in a package's tests::

    class TestMyModelContract(ModuleContract):
        bad_values = (({"latent_dim": 0}, "latent_dim"),)
        def make_module(self, **kw): return MyModel(**{"latent_dim": 2, **kw})
        def make_dataset(self):      return TensorDataset(x, torch.arange(len(x)))

- :func:`check_resume`: a run interrupted after k epochs and resumed from its checkpoint ends
  with exactly (bitwise) the state of the uninterrupted run: parameters, buffers, optimiser
  state, sampler RNG, chains.
- :func:`check_reload`: ``load_from_checkpoint(weights_only=True)`` rebuilds the same module.
- :func:`check_ddp`: DDP on 2 CPU processes (gloo; forked, see :func:`ddp_test_strategy`) with per-rank batch b ends with the
  parameters of one process on global batch 2b. Exact only if the per-example randomness does
  not depend on the split: example-keyed chain starts (``init_noise="example"``) and noiseless
  Langevin (``noise_scale=0``), since one Philox stream per rank cannot equal one per global
  batch. Floating-point sums of the gradient differ in order, hence ``atol``.
"""

from __future__ import annotations

import copy
import multiprocessing
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from latent_ebm.core.lightning import CooperativeModule, DualRateModule, LatentEBMModule
from latent_ebm.core.lightning._base import CKPT_KEY

__all__ = [
    "ModuleContract",
    "assert_states_equal",
    "check_ddp",
    "ddp_test_strategy",
    "check_mid_epoch_resume",
    "check_reload",
    "check_resume",
    "module_state",
    "tiny_trainer",
]


def tiny_trainer(root: Path | str, **overrides: Any) -> L.Trainer:
    """A quiet CPU Trainer for tests: no logger, progress bar or summary; inference_mode=False."""
    kw: dict[str, Any] = {
        "accelerator": "cpu", "devices": 1, "logger": False, "enable_progress_bar": False,
        "enable_model_summary": False, "enable_checkpointing": False, "inference_mode": False,
        "default_root_dir": str(root), "num_sanity_val_steps": 0,
    }
    kw.update(overrides)
    return L.Trainer(**kw)


def module_state(module: L.LightningModule, trainer: L.Trainer | None = None) -> dict[str, Any]:
    """Everything a resume must restore: state_dict, the module's checkpoint extras (RNG, chains,
    counters) and the optimisers' states. Calls ``on_save_checkpoint`` (a collective under DDP)."""
    extra: dict[str, Any] = {}
    module.on_save_checkpoint(extra)
    state = {"state_dict": {k: v.detach().cpu().clone() for k, v in module.state_dict().items()},
             "extra": extra.get(CKPT_KEY, {})}
    if trainer is not None:
        state["optimizers"] = [copy.deepcopy(o.state_dict()) for o in trainer.optimizers]
    return state


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out |= _flatten(v, f"{prefix}{k}.")
        return out
    if isinstance(obj, list | tuple):
        out = {}
        for i, v in enumerate(obj):
            out |= _flatten(v, f"{prefix}{i}.")
        return out
    return {prefix.rstrip("."): obj}


def assert_states_equal(a: Mapping[str, Any], b: Mapping[str, Any], *, atol: float = 0.0,
                        ignore: tuple[str, ...] = ()) -> None:
    """Equal leaves (tensors bitwise, or within ``atol``); keys starting with ``ignore`` skipped."""
    fa, fb = _flatten(a), _flatten(b)
    keep = lambda k: not any(k.startswith(p) for p in ignore)  # noqa: E731
    ka, kb = {k for k in fa if keep(k)}, {k for k in fb if keep(k)}
    if ka != kb:
        raise AssertionError(f"state keys differ: only in first {sorted(ka - kb)}, only in second {sorted(kb - ka)}")
    for k in sorted(ka):
        va, vb = fa[k], fb[k]
        if isinstance(va, Tensor):
            if va.shape != vb.shape:
                raise AssertionError(f"{k}: shapes {tuple(va.shape)} vs {tuple(vb.shape)}")
            if atol == 0.0 or not va.is_floating_point():
                if not torch.equal(va, vb):
                    diff = (va.double() - vb.double()).abs().max().item() if va.numel() else 0.0
                    raise AssertionError(f"{k}: tensors differ (max abs diff {diff:.3g})")
            elif not torch.allclose(va, vb, rtol=0.0, atol=atol):
                raise AssertionError(f"{k}: max abs diff {(va - vb).abs().max().item():.3g} > atol={atol}")
        elif va != vb:
            raise AssertionError(f"{k}: {va!r} != {vb!r}")


class _Strided(Sampler[int]):
    """Rank r of w takes examples r, r + w, r + 2w, ... in order (rank read when iterated), so
    per-rank batch j of 2 ranks together is exactly batch j of one process with twice the size.
    (Lightning's own DistributedSampler always shuffles training data.)"""

    def __init__(self, n: int) -> None:
        self.n = n

    def _rank_world(self) -> tuple[int, int]:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def __iter__(self):
        rank, world = self._rank_world()
        return iter(range(rank, self.n, world))

    def __len__(self) -> int:
        rank, world = self._rank_world()
        return len(range(rank, self.n, world))


class _CaptureState(Callback):
    """Saves :func:`module_state` of every rank to ``<dir>/rank<r>.pt`` at the end of fit."""

    def __init__(self, out_dir: Path | str) -> None:
        self.out_dir = Path(out_dir)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        state = module_state(pl_module)  # collective: every rank calls it
        torch.save(state, self.out_dir / f"rank{trainer.global_rank}.pt")


def check_resume(
    make_module: Callable[[], L.LightningModule],
    make_loader: Callable[[], DataLoader],
    tmp_path: Path | str,
    *,
    epochs: int = 3,
    interrupt_after: int = 1,
    trainer_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``epochs`` uninterrupted; run ``interrupt_after`` epochs, checkpoint, resume a fresh
    module to ``epochs``; assert both end in the same state (bitwise). Returns that state.

    ``make_loader`` must give the same batch order every epoch of both runs (no shuffle, or a
    sampler seeded by epoch): Lightning does not restore a loader's global-RNG shuffling.
    """
    tmp = Path(tmp_path)
    kw = dict(trainer_kwargs or {})

    def run(max_epochs: int, ckpt: str | None, tag: str) -> tuple[dict[str, Any], L.Trainer]:
        L.seed_everything(1234, verbose=False)
        module = make_module()
        trainer = tiny_trainer(tmp / tag, max_epochs=max_epochs, **kw)
        trainer.fit(module, train_dataloaders=make_loader(), ckpt_path=ckpt)
        return module_state(module, trainer), trainer

    full, _ = run(epochs, None, "full")
    _, first = run(interrupt_after, None, "first")
    ckpt = tmp / "interrupted.ckpt"
    first.save_checkpoint(ckpt)
    resumed, _ = run(epochs, str(ckpt), "resumed")
    assert_states_equal(full, resumed)
    return full


class _SaveAtBatch(Callback):
    """``trainer.save_checkpoint(path)`` at the end of training batch ``at`` (1-based, over the
    whole fit), where ``ModelCheckpoint(every_n_train_steps=...)`` writes one, but counted in
    batches: a module with several optimisers takes several global steps a batch."""

    def __init__(self, at: int, path: Path) -> None:
        self.at, self.path = at, path

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.fit_loop.epoch_loop.batch_progress.total.processed == self.at:
            trainer.save_checkpoint(self.path)


def check_mid_epoch_resume(
    make_module: Callable[[], L.LightningModule],
    make_datamodule: Callable[[], L.LightningDataModule],
    tmp_path: Path | str,
    *,
    epochs: int = 3,
    at_batch: int,
    trainer_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit ``epochs`` epochs with a checkpoint written after training batch ``at_batch`` (which
    must fall inside an epoch), then resume a fresh module and data module from it to the end;
    assert both end in the same state (bitwise, torch's global RNG included). Exercises the data
    module's own training loader, which must skip what the checkpoint trained on (the core's
    ``epoch_loader``). Returns that state."""
    tmp = Path(tmp_path)
    kw = {"limit_val_batches": 0, **dict(trainer_kwargs or {})}
    ckpt = tmp / "mid-epoch.ckpt"

    def fit(tag: str, resume: bool, callbacks: list[Callback]) -> dict[str, Any]:
        L.seed_everything(1234, verbose=False)
        module = make_module()
        trainer = tiny_trainer(tmp / tag, max_epochs=epochs, callbacks=callbacks, **kw)
        trainer.fit(module, datamodule=make_datamodule(), ckpt_path=str(ckpt) if resume else None)
        return module_state(module, trainer)

    full = fit("full", False, [_SaveAtBatch(at_batch, ckpt)])
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)["loops"]["fit_loop"]
    in_epoch = saved["epoch_loop.batch_progress"]["current"]["processed"]
    assert saved["epoch_progress"]["current"]["completed"] < saved["epoch_progress"]["current"]["ready"] and in_epoch, \
        f"batch {at_batch} is not inside an epoch (the checkpoint has {in_epoch} batches of its epoch)"
    resumed = fit("resumed", True, [])
    assert_states_equal(full, resumed)
    return full


def check_reload(
    make_module: Callable[[], L.LightningModule],
    make_loader: Callable[[], DataLoader],
    tmp_path: Path | str,
    *,
    trainer_kwargs: Mapping[str, Any] | None = None,
) -> L.LightningModule:
    """Fit one epoch, save a checkpoint, ``load_from_checkpoint(weights_only=True)`` it: the
    loaded module has the same hyperparameters, weights and checkpoint state. Returns it."""
    tmp = Path(tmp_path)
    L.seed_everything(1234, verbose=False)
    module = make_module()
    trainer = tiny_trainer(tmp / "fit", max_epochs=1, **dict(trainer_kwargs or {}))
    trainer.fit(module, train_dataloaders=make_loader())
    ckpt = tmp / "reload.ckpt"
    trainer.save_checkpoint(ckpt)
    loaded = type(module).load_from_checkpoint(ckpt, map_location="cpu", weights_only=True)
    assert dict(loaded.hparams) == dict(module.hparams), "hyperparameters differ after load_from_checkpoint"
    assert_states_equal(module_state(module), module_state(loaded), ignore=("extra.torch_rng",))
    return loaded


def ddp_test_strategy() -> str:
    """``ddp_fork`` where the OS can fork and CUDA is not yet initialised, else ``ddp_spawn``.
    Forked ranks inherit the imported torch and Lightning: a 2-process test takes seconds instead
    of the ~40 s two fresh interpreters spend importing them on 2 cores."""
    fork_ok = "fork" in multiprocessing.get_all_start_methods() and not torch.cuda.is_initialized()
    return "ddp_fork" if fork_ok else "ddp_spawn"


def check_ddp(
    make_module: Callable[[], L.LightningModule],
    dataset: Dataset,
    tmp_path: Path | str,
    *,
    batch_size: int,
    epochs: int = 1,
    atol: float = 1e-10,
    trainer_kwargs: Mapping[str, Any] | None = None,
    ignore: tuple[str, ...] = ("extra.rng", "extra.torch_rng"),
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """2 CPU processes (:func:`ddp_test_strategy`, gloo) with per-rank ``batch_size`` vs 1 process with
    ``2 * batch_size``, sequential order (rank r takes examples r, r + 2, ...); ``len(dataset)``
    must be a multiple of ``2 * batch_size``; asserts every rank's final state (parameters, chains,
    counters; not the per-rank RNG) equals the single process's within ``atol``.
    ``make_module`` must be picklable (a top-level function or a ``functools.partial``)."""
    if len(dataset) % (2 * batch_size):
        raise ValueError(f"len(dataset)={len(dataset)} is not allowed; it must be a multiple of 2 * batch_size")
    tmp = Path(tmp_path)
    kw = dict(trainer_kwargs or {})
    (tmp / "single").mkdir(parents=True, exist_ok=True)
    (tmp / "ddp").mkdir(parents=True, exist_ok=True)
    L.seed_everything(1234, verbose=False)
    single = make_module()
    trainer = tiny_trainer(tmp / "single", max_epochs=epochs, callbacks=[_CaptureState(tmp / "single")], **kw)
    trainer.fit(single, train_dataloaders=DataLoader(dataset, batch_size=2 * batch_size, shuffle=False))
    ref = torch.load(tmp / "single" / "rank0.pt", weights_only=False)

    L.seed_everything(1234, verbose=False)
    module = make_module()
    trainer = tiny_trainer(tmp / "ddp", max_epochs=epochs, strategy=ddp_test_strategy(), devices=2,
                           use_distributed_sampler=False, callbacks=[_CaptureState(tmp / "ddp")], **kw)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=_Strided(len(dataset)))
    trainer.fit(module, train_dataloaders=loader)
    ranks = [torch.load(tmp / "ddp" / f"rank{r}.pt", weights_only=False) for r in range(2)]
    for r, state in enumerate(ranks):
        try:
            assert_states_equal(ref, state, atol=atol, ignore=ignore)
        except AssertionError as err:
            raise AssertionError(f"rank {r} vs single process: {err}") from None
    return ref, ranks


class ModuleContract:
    """pytest base class every method package subclasses in ``tests/test_contract.py``, as
    diffusers' schedulers subclass one common test. Implement ``make_module(**overrides)`` and
    ``make_dataset()``; list ``bad_values`` as (constructor overrides, the option name the error
    must name). The tests:

    - resume: interrupted after one epoch and resumed from its checkpoint, a run ends bitwise
      where the uninterrupted run ends (parameters, optimisers, sampler RNG, chains, counters);
      with ``make_datamodule()`` given, also from a checkpoint written inside an epoch, through
      the data module's own loader (:func:`check_mid_epoch_resume`);
    - checkpoint: ``load_from_checkpoint(..., weights_only=True)`` rebuilds the same module
      (so ``save_hyperparameters`` holds every constructor argument, as plain data);
    - DDP (marked ``ddp``): 2 gloo processes equal one process on the same global batch, with the
      settings of ``make_ddp_module`` (default ``make_module``; give split-independent noise
      there: ``init_noise="example"`` and noiseless Langevin);
    - bad input: each entry of ``bad_values`` raises ``ValueError`` naming its option;
    - the base owns the loop: a module on a core base does not override its ``training_step``.

    ``make_module`` must be picklable for DDP (define the module class at a module's top level).
    """

    batch_size: int = 4
    resume_epochs: int = 3
    ddp_epochs: int = 1
    ddp_atol: float = 1e-6
    bad_values: tuple[tuple[dict[str, Any], str], ...] = ()
    ddp_skip_reason: str | None = None  # a module whose training noise cannot be split-independent

    def make_module(self, **overrides: Any) -> L.LightningModule:
        raise NotImplementedError

    def make_dataset(self) -> Dataset:
        raise NotImplementedError

    def make_ddp_module(self) -> L.LightningModule:
        return self.make_module()

    def make_datamodule(self) -> L.LightningDataModule | None:
        """The package's data module at a tiny size (2-4 training batches an epoch) for the
        mid-epoch resume test; None (default) skips that test."""
        return None

    def _loader(self) -> DataLoader:
        return DataLoader(self.make_dataset(), batch_size=self.batch_size)

    def check_resumed_state(self, state: dict[str, Any]) -> None:
        """More assertions on the resumed run's final state (:func:`module_state`); default none."""

    def check_ddp_state(self, state: dict[str, Any]) -> None:
        """More assertions on the single process's final state in the DDP test; default none."""

    def test_resume_is_exact(self, tmp_path: Path) -> None:
        state = check_resume(self.make_module, self._loader, tmp_path, epochs=self.resume_epochs, interrupt_after=1)
        self.check_resumed_state(state)

    def test_mid_epoch_resume_through_the_data_module(self, tmp_path: Path) -> None:
        dm = self.make_datamodule()
        if dm is None:
            pytest.skip("this package gives no make_datamodule")
        dm.setup("fit")
        n = len(dm.train_dataloader())
        assert n >= 2, f"make_datamodule gives {n} training batch(es) an epoch; the test needs >= 2"
        # the checkpoint one batch into the second of three epochs
        check_mid_epoch_resume(self.make_module, self.make_datamodule, tmp_path, epochs=3, at_batch=n + 1)

    def test_checkpoint_reloads_the_same_module(self, tmp_path: Path) -> None:
        check_reload(self.make_module, self._loader, tmp_path)

    @pytest.mark.ddp
    def test_ddp_matches_single_process(self, tmp_path: Path) -> None:
        if not torch.distributed.is_available():
            pytest.skip("torch.distributed is not available")
        if self.ddp_skip_reason:
            pytest.skip(self.ddp_skip_reason)
        ref, _ = check_ddp(partial(type(self)._build, type(self)), self.make_dataset(), tmp_path,
                           batch_size=self.batch_size, epochs=self.ddp_epochs, atol=self.ddp_atol)
        self.check_ddp_state(ref)

    def test_bad_values_name_their_option(self) -> None:
        if not self.bad_values:
            pytest.skip("this package lists no bad_values")
        for overrides, name in self.bad_values:
            with pytest.raises(ValueError) as info:
                self.make_module(**overrides)
            assert f"{name}=" in str(info.value), f"{overrides}: the error does not name {name!r}: {info.value}"

    def test_base_owns_the_training_step(self) -> None:
        module = self.make_module()
        if isinstance(module, LatentEBMModule | DualRateModule | CooperativeModule):
            owner = next(c for c in type(module).__mro__ if "training_step" in c.__dict__)
            assert owner.__module__.startswith("latent_ebm.core."), (
                f"{owner.__qualname__} overrides training_step; fill the base's hooks instead")

    @staticmethod
    def _build(cls: type[ModuleContract]) -> L.LightningModule:
        return cls().make_ddp_module()
