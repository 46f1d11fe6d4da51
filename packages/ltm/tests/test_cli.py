"""The console script's fit / test / predict on the tiny config, the GPT baseline through ``--model``,
grouped settings from flags, and bad values reported.
(Exact resume and checkpoint reload: ``test_contract.py``.)"""

import dataclasses

import pytest
import torch

from latent_ebm.ltm import GPTModule, LTMModule
from latent_ebm.ltm.cli import main
from latent_ebm.ltm.model import FAST


def _run(tmp_path, sub, *args):
    return main(args=[sub, "--config", "tiny", f"--trainer.default_root_dir={tmp_path}",
                      f"--trainer.callbacks.init_args.output_path={tmp_path}/samples.txt", *args])


def test_cli_fit_test_predict_tiny(tmp_path):
    cli = _run(tmp_path, "fit", "--trainer.max_steps=6", "--trainer.val_check_interval=3",
               "--model.init_args.fast.eval_steps=3")
    assert isinstance(cli.model, LTMModule) and cli.trainer.global_step == 6
    # a partial group keeps the rest of LTM's defaults: tiny.yaml's fast.steps and optim.lr, the flag's eval_steps
    assert cli.model.fast == dataclasses.replace(FAST, steps=4, eval_steps=3)
    assert cli.model.optim.lr == 3e-3 and cli.model.optim.betas == (0.9, 0.95) and cli.model.optim.grad_clip == 1.0
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
    with pytest.raises(ValueError, match=r"window=64 is not allowed; it must be None or an int >= 1 and <= 32"):
        _run(tmp_path, "fit", "--model.init_args.window=64", "--trainer.max_steps=1")
    # a mistyped option is a different failure: a usage error (exit 2) that names it
    with pytest.raises(SystemExit) as exc:
        _run(tmp_path, "fit", "--model.init_args.windw=4", "--trainer.max_steps=1")
    assert exc.value.code == 2
    assert "Option 'windw' is not accepted" in capsys.readouterr().err
