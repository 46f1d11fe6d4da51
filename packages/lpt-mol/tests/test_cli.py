"""``latent-ebm-lpt-mol fit`` / ``test`` on the tiny config (offline: RDKit's NCI molecules)."""
from latent_ebm.core.testing.cli import CLIContract
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


class TestLPTMolCLIErrors(CLIContract):
    """Bad values, typos and bad checkpoints end in one line with exit 2 (the core's CLI contract)."""

    main = staticmethod(main)
    bad_args = (
        (["--model.n_latent", "-1"], "model.n_latent=-1 is not allowed"),
        (["--model.posterior.step_size", "-0.3"], "model.posterior.step_size=-0.3 is not allowed"),
        (["--model.optim.lr", "0"], "model.optim.lr=0.0 is not allowed"),
        (["--data.limit", "0"], "data.limit=0 is not allowed"),
        (["--model.n_latnt", "3"], "did you mean --model.n_latent?"),
    )
