"""The console script's fit / test / predict on the tiny config, and exact (bitwise) checkpoint resume."""

import functools

import pytest
import torch

from latent_ebm.core.testing.contract import check_resume
from latent_ebm.ltm import GPTModule, LTMDataModule, LTMModule
from latent_ebm.ltm.cli import main


def _run(tmp_path, sub, *args):
    return main(args=[sub, "--config", "tiny", f"--trainer.default_root_dir={tmp_path}",
                      f"--trainer.callbacks.init_args.output_path={tmp_path}/samples.txt", *args])


def test_cli_fit_test_predict_tiny(tmp_path):
    cli = _run(tmp_path, "fit", "--trainer.max_steps=6", "--trainer.val_check_interval=3")
    assert isinstance(cli.model, LTMModule) and cli.trainer.global_step == 6
    assert "val/elbo_ppl" in cli.trainer.callback_metrics and "val/prefix_ppl" in cli.trainer.callback_metrics
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert ckpt.exists()
    cli = _run(tmp_path, "test", f"--ckpt_path={ckpt}")
    assert torch.isfinite(cli.trainer.callback_metrics["test/elbo_ppl"])
    _run(tmp_path, "predict", f"--ckpt_path={ckpt}")
    samples = (tmp_path / "samples.txt").read_text().split("\n=====\n")
    assert len(samples) == 2 and all(len(s.split()) == 15 for s in samples)  # BOS + 7 prompt + 8 new tokens


def test_cli_selects_gpt_baseline(tmp_path):
    cli = _run(tmp_path, "fit", "--model=latent_ebm.ltm.GPTModule", "--model.init_args.window=8",
               "--trainer.max_steps=2", "--trainer.limit_val_batches=0")
    assert isinstance(cli.model, GPTModule) and cli.model.decoder.window == 8


def test_cli_bad_value_is_reported(tmp_path, capsys):
    # the module's own check, passed through by jsonargparse (window > tiny's seq_len 32)
    with pytest.raises(ValueError, match=r"window=64 is not allowed; it must be None or an int in \[1, seq_len=32\]"):
        _run(tmp_path, "fit", "--model.init_args.window=64", "--trainer.max_steps=1")
    # a mistyped option is a different failure: a usage error (exit 2) that names it
    with pytest.raises(SystemExit) as exc:
        _run(tmp_path, "fit", "--model.init_args.windw=4", "--trainer.max_steps=1")
    assert exc.value.code == 2
    assert "Option 'windw' is not accepted" in capsys.readouterr().err


def _tiny_ltm(cls=LTMModule):
    return cls(vocab_size=65, d_model=16, n_layers=2, n_heads=2, seq_len=16, window=4, n_latents=2,
               inner_steps=2, lr=3e-3, warmup_steps=2, max_steps=9)


def _epoch_shuffled_loader():
    dm = LTMDataModule(seq_len=16, batch_size=8, n_train_docs=24, n_val_docs=8, prompt_len=4)
    dm.setup()
    return dm.train_dataloader()  # 3 batches per epoch, order drawn from (seed, epoch)


def test_checkpoint_resume_is_exact(tmp_path):
    """The core's contract: 3 epochs straight vs 1 epoch, checkpoint, resume to 3 end bitwise equal
    in parameters, optimiser state (AdamW moments and step) and the sampler generator of q's init and eps."""
    state = check_resume(_tiny_ltm, _epoch_shuffled_loader, tmp_path, epochs=3, interrupt_after=1)
    assert state["optimizers"][0]["state"], "optimiser state must be part of the comparison"
    assert int(next(iter(state["optimizers"][0]["state"].values()))["step"]) == 9


def test_resume_check_sees_a_lost_generator(tmp_path):
    """The check can fail: a module that forgets its sampler generator on load does not resume exactly."""

    class Forgetful(LTMModule):
        def on_load_checkpoint(self, checkpoint):
            checkpoint["latent_ebm"].pop("rng")
            super().on_load_checkpoint(checkpoint)

    with pytest.raises(AssertionError, match="differ"):
        check_resume(functools.partial(_tiny_ltm, Forgetful), _epoch_shuffled_loader, tmp_path, epochs=3, interrupt_after=1)
