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


def test_the_baselines_run_through_the_same_cli(tmp_path, capsys):
    """Decision Transformer with step rewards from the tiny config by class_path alone: the LPT-only
    arguments are dropped, the shared ones (env, sizes) kept, and its test logs rollouts."""
    root = ["--trainer.default_root_dir", str(tmp_path)]
    dt = ["--model", "latent_ebm.lpt_rl.SequenceBCModule", "--model.condition", "rtg"]
    cli = main(["fit", "--config", "tiny", *root, *dt])
    assert type(cli.model).__name__ == "SequenceBCModule" and cli.model.hparams.condition == "rtg"
    assert cli.model.hparams.d_model == 8  # from the config
    main(["test", "--config", "tiny", *root, *dt, "--ckpt_path", "last"])
    assert "test/score" in capsys.readouterr().out


def test_offline_subcommand_fits_and_rolls_out_d3rlpy(tmp_path, capsys):
    import json

    import pytest

    pytest.importorskip("d3rlpy")
    res = main(["offline", "--config", "tiny", "--algo", "iql", "--n_steps", "20", "--episodes", "3",
                "--out", str(tmp_path / "iql")])
    saved = json.loads((tmp_path / "iql" / "results.json").read_text())
    assert saved == res and res["algo"] == "iql" and res["train_episodes"] == 29 and len(res["returns"]) == 3
    assert set(res["returns"]) <= {0.0, 1.0}  # the chain MDP's two returns
    assert (tmp_path / "iql" / "model.d3").stat().st_size > 0
    assert_usage_error(main, ["offline", "--config", "tiny", "--algo", "sac"], "algo='sac' is not allowed", capsys)
    assert_usage_error(main, ["offline", "--config", "tiny", "--n_step", "3"], "unrecognized arguments: --n_step", capsys)
    assert_usage_error(main, ["offline", "--config", "nope"], "expected a path or one of", capsys)


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
