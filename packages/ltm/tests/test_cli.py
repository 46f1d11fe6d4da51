"""The console script's fit / test / predict on the tiny config (``predict --n`` writes
``samples.txt`` and the run summary names it), the GPT baseline through ``--model``, grouped
settings from flags, checkpoints of the other model, and the core's CLI contract (every shipped
config one step; one-line usage errors). (Exact resume and checkpoint reload: ``test_contract.py``.)"""

import dataclasses
import shutil

import lightning as L
import torch

from latent_ebm.core.testing.cli import CLIContract, assert_usage_error
from latent_ebm.ltm import GPTModule, LTMModule
from latent_ebm.ltm.cli import main
from latent_ebm.ltm.model import FAST

# The paper-size configs (ltm-s, ltm-m, paper = ltm-m, ltm-l) name OpenWebText (a download):
# their one step runs on the offline latent-topic corpus, 2 sequences of 32 tokens, with the
# config's own model (38M-76M parameters, vocab 50258, context 1024). Two more things shrink
# so that a step takes seconds on a CPU: precision 32 (bf16-mixed autocast has no fast CPU
# kernels here: about 30x slower than float32) and 2 fast steps instead of T_fast 16 / 64.
PAPER_SIZE = ["--data.dataset", "latent-topic", "--data.seq_len", "32", "--data.batch_size", "2",
              "--data.eval_batch_size", "2", "--data.n_train_docs", "2", "--data.n_val_docs", "2",
              "--trainer.precision", "32-true", "--model.init_args.fast.steps", "2", "--data.global_batch_size", "2"]


def _run(tmp_path, sub, *args):
    return main(args=[sub, "--config", "tiny", f"--trainer.default_root_dir={tmp_path}", *args])


def _samples(path):
    """The (prompt, continuation) of every block of a ``samples.txt``."""
    blocks = path.read_text().split("=== sample ")[1:]
    out = []
    for block in blocks:
        lines = block.splitlines()
        assert lines[1].startswith("[prompt] ") and lines[2].startswith("[continuation] "), block
        out.append((lines[1].removeprefix("[prompt] ").split(), lines[2].removeprefix("[continuation] ").split()))
    return out


def test_cli_fit_test_predict_tiny(tmp_path, capsys):
    cli = _run(tmp_path, "fit", "--trainer.max_steps=6", "--trainer.val_check_interval=3",
               "--model.init_args.fast.eval_steps=3")
    assert isinstance(cli.model, LTMModule) and cli.trainer.global_step == 6
    # a partial group keeps the rest of LTM's defaults: tiny.yaml's fast.steps and optim.lr, the flag's eval_steps
    assert cli.model.fast == dataclasses.replace(FAST, steps=4, eval_steps=3)
    assert cli.model.optim.lr == 3e-3 and cli.model.optim.betas == (0.9, 0.95) and cli.model.optim.grad_clip == 1.0
    assert "val/elbo_ppl" in cli.trainer.callback_metrics and "val/prefix_ppl" in cli.trainer.callback_metrics
    ckpts = sorted(tmp_path.rglob("last.ckpt"))
    assert len(ckpts) == 1
    cli = _run(tmp_path, "test", "--ckpt_path=last")
    assert torch.isfinite(cli.trainer.callback_metrics["test/elbo_ppl"])
    assert cli.datamodule.hparams.test_split == "test"  # latent-topic's held-out test documents
    capsys.readouterr()
    _run(tmp_path, "predict", "--ckpt_path=last", "--n=3")
    written = sorted((tmp_path / "predictions").rglob("samples.txt"))
    assert len(written) == 1
    samples = _samples(written[0])
    # --n 3 samples; each prompt is BOS + 7 tokens (decoding drops BOS), then tiny's 8 new tokens
    # (fewer shown where the model generated BOS, which decoding drops)
    assert len(samples) == 3 and all(len(p) == 7 and 0 < len(c) <= 8 for p, c in samples), samples
    assert all(t.startswith("t") for p, c in samples for t in p + c)
    err = capsys.readouterr().err
    assert "predict finished" in err and str(written[0]) in err


def test_cli_selects_gpt_baseline_and_predicts(tmp_path):
    cli = _run(tmp_path, "fit", "--model=latent_ebm.ltm.GPTModule", "--model.init_args.window=8",
               "--trainer.max_steps=2", "--trainer.limit_val_batches=0")
    assert isinstance(cli.model, GPTModule) and cli.model.decoder.window == 8
    cli = _run(tmp_path, "predict", "--model=latent_ebm.ltm.GPTModule", "--ckpt_path=last")
    assert isinstance(cli.model, GPTModule) and cli.model.decoder.window == 8  # the checkpoint's settings
    samples = _samples(next((tmp_path / "predictions").rglob("samples.txt")))
    assert len(samples) == 2  # tiny's predict_n


def test_a_checkpoint_of_the_other_model_is_a_one_line_error(tmp_path, capsys):
    """``test --config tiny --ckpt_path last`` after a GPT run: the checkpoint names its class
    (``_class_path``: GPTModule); the command builds LTMModule."""
    _run(tmp_path, "fit", "--model=latent_ebm.ltm.GPTModule", "--trainer.max_steps=1", "--trainer.limit_val_batches=0")
    assert_usage_error(main, ["test", "--config", "tiny", f"--trainer.default_root_dir={tmp_path}", "--ckpt_path", "last"],
                       "--model latent_ebm.ltm.GPTModule", capsys)


def test_a_checkpoint_saved_from_python_tests(tmp_path):
    """A checkpoint of an ``LTMModule`` built in Python (no ``_class_path`` among its saved settings)."""
    module = LTMModule(vocab_size=65, d_model=32, n_layers=2, n_heads=2, seq_len=32, window=8, n_latents=4,
                       fast={"steps": 2})
    trainer = L.Trainer(max_steps=0, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(tmp_path / "python.ckpt")
    cli = _run(tmp_path, "test", f"--ckpt_path={tmp_path / 'python.ckpt'}", "--trainer.limit_test_batches=1")
    assert cli.model.fast.steps == 2  # the checkpoint's settings, not tiny.yaml's


class TestLTMCLIErrors(CLIContract):
    """The core's CLI contract: every shipped config runs one step; each bad command exits 2 with
    one ``error: ...`` line naming the option (a module check, a group's own check, a mistyped
    option), a typo gets "did you mean", bad checkpoints are refused in one line."""

    main = staticmethod(main)
    config = "tiny"
    bad_args = (
        (["--model.window", "64"], "model.window=64 is not allowed; it must be None or an int >= 1 and <= 32"),
        (["--model.fast.lr", "0"], "model.fast.lr=0.0 is not allowed"),
        (["--model.init_args.optim.warmup_steps", "-1"], "model.optim.warmup_steps=-1 is not allowed"),
        (["--model.fast.steps", "-1"], "model.fast.steps=-1 is not allowed"),
        (["--model.fast.steps", "0"], "model.fast.steps=0 is not allowed"),
        (["--model.windw", "4"], "unrecognized option --model.windw; did you mean --model.window?"),
        (["--data.predict_n", "0"], "data.predict_n=0 is not allowed"),
        (["--data.dataset", "wikitext"], "data.dataset='wikitext' is not allowed"),
    )
    config_overrides = {
        "demo": ["--data.n_train_docs", "32", "--data.n_val_docs", "8"],
        **{name: PAPER_SIZE for name in ("ltm-s", "ltm-m", "paper", "ltm-l")},
    }

    def test_shipped_config_runs_one_step(self, shipped_config, tmp_path, capsys):
        try:
            super().test_shipped_config_runs_one_step(shipped_config, tmp_path, capsys)
        finally:  # each paper-size run leaves a 0.5-0.9 GB checkpoint (weights and AdamW state)
            shutil.rmtree(tmp_path, ignore_errors=True)
