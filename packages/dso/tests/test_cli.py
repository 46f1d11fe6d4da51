"""The console script fits, tests and predicts with the shipped tiny config."""

from latent_ebm.core.testing.cli import CLIContract
from latent_ebm.dso.cli import main


def test_cli_fit_test_predict_tiny(tmp_path, capsys):
    root = ["--trainer.default_root_dir", str(tmp_path)]
    main(["fit", "--config", "tiny", *root])
    ckpts = sorted(tmp_path.rglob("*.ckpt"))
    assert ckpts
    main(["test", "--config", "tiny", *root, "--ckpt_path", str(ckpts[-1])])
    assert "test/nll" in capsys.readouterr().out
    main(["predict", "--config", "tiny", *root, "--ckpt_path", "last", "--n", "10"])
    samples = sorted(tmp_path.rglob("samples.csv"))
    assert samples and len(samples[0].read_text().splitlines()) == 1 + 10  # header + --n samples
    err = capsys.readouterr().err
    assert "predict finished" in err and str(samples[0]) in err


class TestDsoCLIErrors(CLIContract):
    """Bad values, typos and bad checkpoints end in one line, exit 2 (the core's CLI contract)."""

    main = staticmethod(main)
    bad_args = (
        (["--model.optim.lr", "-1"], "model.optim.lr=-1.0 is not allowed; it must be a finite number > 0"),
        (["--model.posterior.n_steps", "-3"], "model.posterior.n_steps=-3 is not allowed"),
        (["--model.obs_sigma", "0"], "model.obs_sigma=0.0 is not allowed"),
        (["--model.hidden", "wide"], "model.hidden='wide' is not allowed; it must be an int"),
        (["--data.n_train", "0"], "data.n_train=0 is not allowed"),
        (["--model.hiden", "3"], "did you mean --model.hidden?"),
    )
