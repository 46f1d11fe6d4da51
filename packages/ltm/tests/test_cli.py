"""The console script's fit / test / predict on the tiny config, and exact checkpoint resume."""

import lightning as L
import pytest
import torch

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


def test_cli_bad_value_is_reported(tmp_path):
    with pytest.raises((ValueError, SystemExit)):
        _run(tmp_path, "fit", "--model.init_args.window=64", "--trainer.max_steps=1")


def _fit(tmp_path, steps, ckpt=None):
    L.seed_everything(0)
    model = LTMModule(vocab_size=65, d_model=16, n_layers=2, n_heads=2, seq_len=16, window=4, n_latents=2,
                      inner_steps=2, lr=3e-3, warmup_steps=2, max_steps=16)
    dm = LTMDataModule(seq_len=16, batch_size=8, n_train_docs=8, n_val_docs=8, prompt_len=4)
    trainer = L.Trainer(max_steps=steps, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, inference_mode=False, limit_val_batches=0)
    trainer.fit(model, dm, ckpt_path=ckpt)
    return model, trainer


def test_checkpoint_resume_is_exact(tmp_path):
    full, _ = _fit(tmp_path / "a", 16)  # one batch per epoch: the resume point is an epoch boundary
    _, t1 = _fit(tmp_path / "b", 8)
    ckpt = tmp_path / "b" / "resume.ckpt"
    t1.save_checkpoint(ckpt)
    resumed, t2 = _fit(tmp_path / "c", 16, ckpt=str(ckpt))
    assert t2.global_step == 16
    for (n, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, msg=n)
