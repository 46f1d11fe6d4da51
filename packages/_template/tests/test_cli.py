"""The console script fits, tests and predicts with the shipped tiny config."""

from latent_ebm.template.cli import main


def test_cli_fit_test_predict_tiny(tmp_path, capsys):
    root = ["--trainer.default_root_dir", str(tmp_path)]
    main(["fit", "--config", "tiny", *root])
    ckpts = sorted(tmp_path.rglob("*.ckpt"))
    assert ckpts
    main(["test", "--config", "tiny", *root, "--ckpt_path", str(ckpts[-1])])
    assert "test/nll" in capsys.readouterr().out
    cli = main(["predict", "--config", "tiny", *root, "--ckpt_path", str(ckpts[-1])])
    assert cli is not None
