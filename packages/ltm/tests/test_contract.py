"""The core's module contract on LTM and on its GPT baseline: exact resume (weights, AdamW state
and schedule, the sampler generator that draws q's init and eps, the iteration counter),
checkpoint reload with ``weights_only=True``, DDP equal to one process, bad settings named, and
LTM's training step left to the core's ``DualRateModule``.

LTM's DDP run is exact (up to the all-reduce's float order) with q's init and eps keyed by
example (``init_noise="example"``): the fast loop's examples are independent of each other, and
the slow loss is a token mean over equal per-rank batches."""

import functools

import pytest

from latent_ebm.core.testing.contract import ModuleContract, check_resume
from latent_ebm.ltm import GPTModule, LTMDataModule, LTMModule

N, BATCH, EPOCHS = 16, 4, 3
STEPS = N // BATCH * EPOCHS
SIZE = dict(vocab_size=65, d_model=16, n_layers=2, n_heads=2, seq_len=16)
# the cosine's length is pinned: the interrupted 1-epoch run must follow the same schedule as the full run
OPTIM = {"lr": 3e-3, "warmup_steps": 2, "max_steps": STEPS}
TINY_LTM = dict(SIZE, window=4, n_latents=2, fast={"steps": 2}, optim=OPTIM, seed=3)


def _blocks():
    """N latent-topic blocks of 16 tokens as the data module gives them: {"x", "index"}."""
    dm = LTMDataModule(seq_len=16, batch_size=BATCH, n_train_docs=N, n_val_docs=4, prompt_len=4)
    dm.setup()
    return dm.splits["train"]


class TestLTMContract(ModuleContract):
    batch_size = BATCH
    resume_epochs = EPOCHS
    bad_values = (
        ({"n_latents": 3}, "n_latents"),  # not a multiple of n_layers=2
        ({"window": 0}, "window"),
        ({"window": 17}, "window"),  # > seq_len
        ({"z_source": "encoder"}, "z_source"),
        ({"prefix_fraction": 1.0}, "prefix_fraction"),
        ({"top_p": 0.0}, "top_p"),
        ({"fast": {"steps": -1}}, "fast.steps"),
        ({"fast": {"lr": 0}}, "fast.lr"),
        ({"fast": {"final_ratio": 1.5}}, "fast.final_ratio"),
        ({"optim": {"lr": -1.0}}, "optim.lr"),
        ({"optim": {"grad_clip": 0.0}}, "optim.grad_clip"),
        ({"init_noise": "batch"}, "init_noise"),
    )

    def make_module(self, **kw):
        return LTMModule(**{**TINY_LTM, **kw})

    def make_ddp_module(self):
        return self.make_module(init_noise="example")

    def make_dataset(self):
        return _blocks()

    def make_datamodule(self):
        return LTMDataModule(seq_len=16, batch_size=BATCH, n_train_docs=N, n_val_docs=4, prompt_len=4)

    def check_resumed_state(self, state):
        assert state["extra"]["iterations"] == STEPS
        adam = next(iter(state["optimizers"][0]["state"].values()))
        assert int(adam["step"]) == STEPS  # the optimiser's state is part of the comparison


class TestGPTContract(ModuleContract):
    batch_size = BATCH
    resume_epochs = EPOCHS
    bad_values = (
        ({"window": 17}, "window"),
        ({"seq_len": 1}, "seq_len"),
        ({"prefix_fraction": 0}, "prefix_fraction"),
        ({"temperature": -1.0}, "temperature"),
        ({"optim": {"lr": 0.0}}, "optim.lr"),
        ({"optim": {"schedule": "linear"}}, "optim.schedule"),
    )

    def make_module(self, **kw):
        return GPTModule(**{**SIZE, "optim": OPTIM, **kw})

    def make_dataset(self):
        return _blocks()

    def check_resumed_state(self, state):
        adam = next(iter(state["optimizers"][0]["state"].values()))
        assert int(adam["step"]) == STEPS


class _Forgetful(LTMModule):
    """Restores everything but the sampler generator, which it reseeds."""

    def on_load_checkpoint(self, checkpoint):
        super().on_load_checkpoint(checkpoint)
        self.rng.manual_seed(self.base_seed + self.global_rank)


def test_resume_check_sees_a_lost_generator(tmp_path):
    """The resume check can fail: a module that forgets its sampler generator on load does not
    resume exactly (its q init and eps differ after the checkpoint)."""
    from torch.utils.data import DataLoader

    with pytest.raises(AssertionError, match="differ"):
        check_resume(functools.partial(_Forgetful, **TINY_LTM), lambda: DataLoader(_blocks(), batch_size=BATCH),
                     tmp_path, epochs=EPOCHS, interrupt_after=1)

