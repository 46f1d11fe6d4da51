"""The console script fits and tests the shipped tiny configs (ODE-LEBM and the baseline)."""

import pytest

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
