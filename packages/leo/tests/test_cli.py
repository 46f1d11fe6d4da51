"""The console script fits, tests and predicts with the shipped tiny config; every shipped config
runs one step (CLIContract)."""

from latent_ebm.core.testing.cli import CLIContract
from latent_ebm.leo.cli import main


def test_cli_fit_test_predict_tiny(tmp_path, capsys):
    root = ["--trainer.default_root_dir", str(tmp_path)]
    main(["fit", "--config", "tiny", *root])
    ckpts = sorted(tmp_path.rglob("*.ckpt"))
    assert ckpts
    main(["test", "--config", "tiny", *root, "--ckpt_path", str(ckpts[-1])])
    assert "test/score_p100" in capsys.readouterr().out
    main(["predict", "--config", "tiny", *root, "--ckpt_path", "last", "--n", "10"])
    designs = sorted(tmp_path.rglob("designs.csv"))
    lines = designs[0].read_text().splitlines()
    assert lines[0] == "design,y_pred,score" and len(lines) == 1 + 10
    assert all(len(line.split(",")[0]) == 8 for line in lines[1:])
    assert "predict finished" in capsys.readouterr().err


class TestLEOCLIErrors(CLIContract):
    """Bad values, typos and bad checkpoints end in one line, exit 2 (the core's CLI contract)."""

    main = staticmethod(main)
    # the one-step runs of the TFBind configs on a small training subsample
    _small = ["--data.n_train", "512", "--model.hidden", "32", "--model.prior_hidden", "16", "--model.oversample", "1",
              "--model.design_langevin.n_steps", "2"]
    config_overrides = {"demo": _small, "paper": _small}
    bad_args = (
        (["--model.optim.lr", "-1"], "model.optim.lr=-1.0 is not allowed; it must be a finite number > 0"),
        (["--model.y_sigma", "0"], "model.y_sigma=0.0 is not allowed"),
        (["--model.prior", "flow"], "model.prior"),
        (["--model.noise_magnitude", "0.5"], "model.noise_magnitude=0.5 is not allowed"),
        (["--data.n_train", "0"], "data.n_train=0 is not allowed"),
        (["--data.task", "mnist"], "data.task"),
        (["--model.hiden", "3"], "did you mean --model.hidden?"),
    )
