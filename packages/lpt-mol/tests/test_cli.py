"""``latent-ebm-lpt-mol fit`` / ``test`` on the tiny config (offline: RDKit's NCI molecules)."""
from latent_ebm.lpt_mol.cli import main


def test_cli_fit_and_test_tiny(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = main(args=["fit", "--config", "tiny", "--trainer.enable_progress_bar", "false"])
    assert cli.trainer.global_step == 3
    ckpts = list(tmp_path.rglob("*.ckpt"))
    assert ckpts
    out = main(args=["test", "--config", "tiny", "--ckpt_path", str(ckpts[0]),
                     "--trainer.enable_progress_bar", "false"])
    assert out.model.vocab_state is not None
