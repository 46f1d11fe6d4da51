"""The console script's fit / test / predict on the tiny config, the GPT baseline through ``--model``,
grouped settings from flags, and the core's CLI contract (one-line usage errors).
(Exact resume and checkpoint reload: ``test_contract.py``.)"""

import dataclasses

import torch

from latent_ebm.core.testing.cli import CLIContract
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
    ckpts = sorted(tmp_path.rglob("last.ckpt"))
    assert len(ckpts) == 1
    ckpt = ckpts[0]
    cli = _run(tmp_path, "test", f"--ckpt_path={ckpt}")
    assert torch.isfinite(cli.trainer.callback_metrics["test/elbo_ppl"])
    _run(tmp_path, "predict", f"--ckpt_path={ckpt}")
    samples = (tmp_path / "samples.txt").read_text().split("\n=====\n")
    # BOS + 7 prompt + 8 new tokens; decoding drops BOS, which the model may also have generated
    assert len(samples) == 2 and all(7 < len(s.split()) <= 15 for s in samples), samples


def test_cli_selects_gpt_baseline(tmp_path):
    cli = _run(tmp_path, "fit", "--model=latent_ebm.ltm.GPTModule", "--model.init_args.window=8",
               "--trainer.max_steps=2", "--trainer.limit_val_batches=0")
    assert isinstance(cli.model, GPTModule) and cli.model.decoder.window == 8


class TestLTMCLIErrors(CLIContract):
    """The core's CLI contract: each bad command exits 2 with one ``error: ...`` line naming the
    option (a module check, a group's own check, a mistyped option), a typo gets "did you mean",
    bad checkpoints are refused in one line."""

    main = staticmethod(main)
    config = "tiny"
    bad_args = (
        (["--model.window", "64"], "model.window=64 is not allowed; it must be None or an int >= 1 and <= 32"),
        (["--model.fast.lr", "0"], "model.fast.lr=0.0 is not allowed"),
        (["--model.init_args.optim.warmup_steps", "-1"], "model.optim.warmup_steps=-1 is not allowed"),
        (["--model.fast.steps", "-1"], "model.fast.steps=-1 is not allowed"),
        (["--model.windw", "4"], "unrecognized option --model.windw; did you mean --model.window?"),
    )
