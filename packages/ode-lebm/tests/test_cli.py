"""The console script fits and tests the shipped tiny configs (ODE-LEBM and the baseline)."""

import pytest

from latent_ebm.core.testing.cli import CLIContract
from latent_ebm.ode_lebm.cli import main


@pytest.mark.parametrize("config", ["tiny", "tiny_latent_ode"])
def test_cli_fit_then_test_tiny(tmp_path, config, capsys):
    root = str(tmp_path)
    main(["fit", "--config", config, "--trainer.default_root_dir", root])
    ckpts = sorted(tmp_path.rglob("*.ckpt"))
    assert ckpts, list(tmp_path.rglob("*"))
    main(["test", "--config", config, "--trainer.default_root_dir", root, "--ckpt_path", str(ckpts[-1])])
    out = capsys.readouterr().out
    assert "test/extrap_mse" in out and "test/interp_mse" in out


class TestODELEBMCLIErrors(CLIContract):
    """Bad values, typos and bad checkpoints end in one line with exit 2 (the core's CLI contract)."""

    main = staticmethod(main)
    bad_args = (
        (["--model.latent_dim", "-2"], "model.latent_dim=-2 is not allowed; it must be an int >= 1"),
        (["--model.posterior.n_steps", "-1"], "model.posterior.n_steps=-1 is not allowed"),
        (["--model.optim.lr", "-1"], "model.optim.lr=-1.0 is not allowed"),
        (["--data.n_train", "0"], "data.n_train=0 is not allowed"),
        (["--model.latent_dimm", "3"], "did you mean --model.latent_dim?"),
        (["--model.prior", "flow"], "model.prior"),
    )
