"""The console script fits, tests and predicts with the shipped tiny config; bad input is one line."""

import numpy as np

from latent_ebm.core.testing.cli import CLIContract, assert_usage_error
from latent_ebm.lpt_rl.cli import main


def test_cli_fit_test_predict_tiny(tmp_path, capsys):
    root = ["--trainer.default_root_dir", str(tmp_path)]
    main(["fit", "--config", "tiny", *root])
    assert sorted(tmp_path.rglob("*.ckpt"))
    main(["test", "--config", "tiny", *root, "--ckpt_path", "last"])
    out = capsys.readouterr().out
    assert "test/nll" in out and "test/score" in out
    main(["predict", "--config", "tiny", *root, "--ckpt_path", "last", "--n", "5"])
    rows = sorted(tmp_path.rglob("rollouts.csv"))
    assert rows and len(rows[0].read_text().splitlines()) == 1 + 5
    assert "predict finished" in capsys.readouterr().err


def test_a_dataset_of_the_wrong_size_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, observations=np.zeros((8, 5), np.float32), actions=np.zeros((8, 1), np.float32),
             rewards=np.zeros(8, np.float32), terminals=np.arange(8) % 4 == 3)
    assert_usage_error(main, ["fit", "--config", "tiny", "--trainer.default_root_dir", str(tmp_path),
                              "--data.path", str(bad)], "env='chain' has 2/1", capsys)


def test_chains_must_match_the_training_split(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["fit", "--config", "tiny", "--trainer.default_root_dir", str(tmp_path), "--model.chains.n_examples", "7"])
    assert "error: model.chains.n_examples=7 is not allowed; it must be at least the training split's size, 29" in capsys.readouterr().err


class TestLPTRLCLIErrors(CLIContract):
    """Bad values, typos and bad checkpoints end in one line, exit 2 (the core's CLI contract)."""

    main = staticmethod(main)
    bad_args = (
        (["--model.env", "atari", "--data.env", "atari"], "env='atari' is not allowed"),
        (["--model.target_return", ".inf"], "model.target_return=inf is not allowed"),
        (["--model.plan.n_steps", "-3"], "model.plan.n_steps=-3 is not allowed"),
        (["--model.optim.lr", "-1"], "model.optim.lr=-1.0 is not allowed"),
        (["--data.n_episodes", "0"], "data.n_episodes=0 is not allowed"),
        (["--model.d_modl", "3"], "did you mean --model.d_model?"),
    )
    # the paper and demo configs' one-step runs on the chain data at tiny width
    _small = ["--data.env", "chain", "--data.n_episodes", "40", "--data.path", "null", "--model.env", "chain",
              "--model.d_model", "8", "--model.unet_base", "8", "--model.unet_multipliers", "[1, 2]",
              "--model.test_episodes", "1", "--data.batch_size", "4"]
    config_overrides = {"paper": _small, "demo": _small,
                        "connect4": ["--data.n_episodes", "10", "--model.chains.n_examples", "9", "--model.test_episodes", "1",
                                     "--model.d_model", "8", "--data.batch_size", "4"]}
