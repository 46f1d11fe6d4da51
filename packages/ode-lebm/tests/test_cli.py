"""The console script: fit, test and predict with the shipped tiny configs (ODE-LEBM and the
baseline), the README's Gaussian-prior sequence, every shipped config for one step, and the
core's one-line errors."""

import numpy as np
import pytest

from latent_ebm.core.priors import GaussianPrior
from latent_ebm.core.testing.cli import CLIContract
from latent_ebm.ode_lebm.cli import main

CPU = ["--trainer.accelerator", "cpu", "--trainer.devices", "1"]


@pytest.mark.parametrize("config", ["tiny", "tiny_latent_ode"])
def test_cli_fit_test_predict_tiny(tmp_path, config, capsys):
    root = ["--trainer.default_root_dir", str(tmp_path)]
    main(["fit", "--config", config, *root])
    assert sorted((tmp_path / "checkpoints").rglob("last.ckpt"))
    assert sorted((tmp_path / "tensorboard").glob("version_0")), "tiny keeps its logger on"
    main(["test", "--config", config, *root, "--ckpt_path", "last"])
    out = capsys.readouterr()
    assert "test/extrap_mse" in out.out and "test/interp_mse" in out.out
    assert "test finished" in out.err and "UNTRAINED" not in out.err

    main(["predict", "--config", config, *root, "--ckpt_path", "last", "--n", "3"])
    err = capsys.readouterr().err
    npz, png = sorted((tmp_path / "predictions").rglob("trajectories.npz")), sorted(
        (tmp_path / "predictions").rglob("trajectories.png"))
    assert len(npz) == 1 and len(png) == 1 and png[0].stat().st_size > 1000
    with np.load(npz[0]) as z:
        assert z["pred"].shape == z["x"].shape == (3, 20, 1)  # --n 3 test sequences, test_steps 20
        assert z["t"].shape == (20,) and z["mask"].shape == z["extrap_mask"].shape == (3, 20)
        assert np.isfinite(z["pred"]).all()
        assert z["mask"][:, 10:].sum() == 0 and (z["extrap_mask"][:, 10:] == 1).all()  # window: train_steps 10
    assert "predict finished" in err and str(npz[0]) in err and str(png[0]) in err


def test_readme_gaussian_prior_then_test_last(tmp_path, capsys):
    """Issue 26: a run with ``--model.init_args.prior gaussian``, then ``test --ckpt_path last``
    without the flag, failed with missing weights (an EBM prior built, a Gaussian checkpoint
    loaded). The checkpoint's saved settings now build the model."""
    root = ["--trainer.default_root_dir", str(tmp_path), *CPU]
    main(["fit", "--config", "tiny", *root, "--model.init_args.prior", "gaussian", *CLIContract.ONE_STEP])
    cli = main(["test", "--config", "tiny", *root, "--ckpt_path", "last"])
    assert cli.model.hparams.prior == "gaussian" and isinstance(cli.model.prior, GaussianPrior)
    err = capsys.readouterr().err
    assert "test finished" in err and "test/extrap_mse" in err


class TestODELEBMCLIErrors(CLIContract):
    """Bad values, typos and bad checkpoints end in one line with exit 2 (the core's CLI contract);
    every shipped config runs one step."""

    main = staticmethod(main)
    # Every config's data is generated offline; few sequences in small batches. The training
    # step is the config's own; only evaluation inference is shortened: the paper's (100
    # Langevin steps x 4 chains back-propagated through the ODE solve) takes about 15 s per
    # batch on one CPU thread, the demo's (60 x 2) about 10 s, each run validating and testing.
    _SMALL = ["--data.n_train", "8", "--data.n_val", "4", "--data.n_test", "4", "--data.batch_size", "4",
              "--model.init_args.eval_posterior.n_steps", "5"]
    config_overrides = {"demo": _SMALL, "paper": _SMALL}
    bad_args = (
        (["--model.latent_dim", "-2"], "model.latent_dim=-2 is not allowed; it must be an int >= 1"),
        (["--model.posterior.n_steps", "-1"], "model.posterior.n_steps=-1 is not allowed"),
        (["--model.optim.lr", "-1"], "model.optim.lr=-1.0 is not allowed"),
        (["--data.n_train", "0"], "data.n_train=0 is not allowed"),
        (["--data.predict_n", "0"], "data.predict_n=0 is not allowed"),
        (["--model.latent_dimm", "3"], "did you mean --model.latent_dim?"),
        (["--model.prior", "flow"], "model.prior"),
    )

    def test_predict_n_must_be_positive(self, tmp_path, capsys):
        from latent_ebm.core.testing.cli import assert_usage_error

        assert_usage_error(main, self._argv(tmp_path, "--n", "0", subcommand="predict"), "n=0 is not allowed", capsys)
