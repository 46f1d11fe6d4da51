"""``latent-ebm-lpt-mol fit`` / ``test`` / ``predict`` on the tiny config (offline: RDKit's NCI
molecules), every shipped config for one step, and the one-line errors of the core's CLI contract."""
import csv
import math

from latent_ebm.core.testing.cli import CLIContract, assert_usage_error
from latent_ebm.lpt_mol.cli import main

ONE_STEP = ["--trainer.max_steps", "1", "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0"]


def _table(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_cli_fit_test_predict_tiny(tmp_path, capsys):
    """fit, test and ``predict --n`` with ``--ckpt_path last``: predict writes the SMILES table
    and the grid image and names both in its summary; a target needs a finetuned model."""
    root = ["--config", "tiny", "--trainer.default_root_dir", str(tmp_path)]
    cli = main(["fit", *root])
    assert cli.trainer.global_step == 3
    assert list(tmp_path.rglob("last.ckpt"))
    out = main(["test", *root, "--ckpt_path", "last"])
    assert out.model.vocab_state is not None
    assert "test finished" in capsys.readouterr().err
    main(["predict", *root, "--ckpt_path", "last", "--n", "6"])
    table, image = sorted(tmp_path.rglob("molecules.tsv")), sorted(tmp_path.rglob("molecules.png"))
    assert table and image and image[0].stat().st_size > 0
    rows = _table(table[0])
    assert len(rows) == 6 and list(rows[0]) == ["smiles", "valid", "qed", "sa"]  # pretrain: no regressor columns
    valid = [r for r in rows if r["valid"] == "1"]  # SELFIES decodes to valid molecules (or an empty string)
    assert valid and all(0.0 < float(r["qed"]) < 1.0 and 1.0 <= float(r["sa"]) <= 10.0 for r in valid)
    err = capsys.readouterr().err
    assert "predict finished" in err and str(table[0]) in err and str(image[0]) in err
    # a property target needs trained regressors: a pretrain checkpoint refuses it in one line
    assert_usage_error(main, ["predict", *root, "--ckpt_path", "last", "--data.predict_target", "[0.9]"],
                       "data.predict_target=[0.9] is not allowed; it needs a model fitted in phase finetune", capsys)


def test_cli_predict_conditioned_on_a_target(tmp_path, capsys):
    """A finetuned model predicts molecules for ``data.predict_target``: its table has the
    regressor's prediction and the target for each molecule."""
    root = ["--config", "tiny", "--trainer.default_root_dir", str(tmp_path), "--model.phase", "finetune"]
    main(["fit", *root, *ONE_STEP])
    main(["predict", *root, "--ckpt_path", "last", "--n", "4", "--data.predict_target", "[0.9]"])
    (table,) = tmp_path.rglob("molecules.tsv")
    rows = _table(table)
    assert len(rows) == 4 and list(rows[0]) == ["smiles", "valid", "qed", "sa", "predicted_qed", "target_qed"]
    assert {r["target_qed"] for r in rows} == {"0.9"}
    assert all(math.isfinite(float(r["predicted_qed"])) for r in rows)


class TestLPTMolCLIErrors(CLIContract):
    """Bad values, typos and bad checkpoints end in one line with exit 2 (the core's CLI contract);
    every shipped config fits one step and tests."""

    main = staticmethod(main)

    @property
    def config_overrides(self) -> dict[str, list[str]]:
        """demo and paper read ZINC250k from the data cache (LATENT_EBM_DATA_DIR; the offline NCI
        molecules where it is absent): its first 300 molecules hold ~30 of the held-out test rows;
        small batches keep the paper-sized model's one step to seconds."""
        from latent_ebm.core.data import is_available

        data = [] if is_available("zinc250k") else ["--data.dataset", "nci5k"]
        return {name: [*data, "--data.limit", "300", "--data.batch_size", "16"] for name in ("demo", "paper")}

    bad_args = (
        (["--model.n_latent", "-1"], "model.n_latent=-1 is not allowed"),
        (["--model.posterior.step_size", "-0.3"], "model.posterior.step_size=-0.3 is not allowed"),
        (["--model.optim.lr", "0"], "model.optim.lr=0.0 is not allowed"),
        (["--data.limit", "0"], "data.limit=0 is not allowed"),
        (["--data.predict_n", "0"], "data.predict_n=0 is not allowed"),
        (["--data.predict_target", "[0.9, 0.5]"], "data.predict_target=[0.9, 0.5] is not allowed; give one finite "
                                                  "value per property ['qed']"),
        (["--model.n_latnt", "3"], "did you mean --model.n_latent?"),
    )
