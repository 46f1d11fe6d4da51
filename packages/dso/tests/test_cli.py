"""``latent-ebm-dso design`` runs the tiny loop offline and resumes it; every shipped config fits
one step (``fit``, the LPT that DSO refits); bad values are one-line errors."""
import json

import pytest
import yaml

from latent_ebm.core.testing.cli import CLIContract
from latent_ebm.dso.cli import main
from latent_ebm.dso.run import load_settings


def _tiny_design(tmp_path, **changes):
    s = load_settings("tiny")
    s.update(pretrain_steps=2, finetune_steps=2, budget=40)
    s.update(changes)
    s["loop"] = {**s["loop"], "refit_steps": 1}
    path = tmp_path / "design.yaml"
    path.write_text(yaml.safe_dump(s))
    return str(path)


def test_design_tiny_then_resume(tmp_path, capsys):
    """The shipped tiny design config parses; a shrunk copy runs to its budget offline, writes its
    tables and a round file, and ``--resume`` continues from it with a larger budget left."""
    assert load_settings("tiny")["objective"] == "qed" and load_settings("paper")["loop"]["pool_size"] == 15000
    out = tmp_path / "run"
    summary = main(["design", "--config", _tiny_design(tmp_path), "--out", str(out)])
    assert summary["calls"] == 40 and summary["budget"] == 40 and summary["mode"] == "dso"
    assert {p.name for p in out.iterdir()} == {"rounds.tsv", "designs.tsv", "summary.json", "last_round.pt"}
    assert json.loads((out / "summary.json").read_text())["calls"] == 40
    assert len((out / "designs.tsv").read_text().splitlines()) == 1 + 40 - summary["failures"]
    err = capsys.readouterr().err
    assert "dso on qed: 40/40 calls" in err and str(out / "last_round.pt") in err
    again = main(["design", "--config", _tiny_design(tmp_path), "--out", str(tmp_path / "again"),
                  "--resume", str(out / "last_round.pt")])
    assert again["calls"] == 40 and "resumed at round" in capsys.readouterr().err  # the saved budget was spent


@pytest.mark.parametrize(("change", "message"), [
    ({"objective": "logd"}, "error: objective='logd' is not allowed"),
    ({"budget": 10}, "error: budget=10 is not allowed; it is smaller than one round (per_round=40)"),
    ({"substructure": "C1CC"}, "error: substructure='C1CC' is not allowed; it is not a valid SMILES"),
    ({"mode": "both"}, "error: mode='both' is not allowed"),
    ({"loopp": {}}, "error: config='loopp' is not allowed"),
])
def test_design_errors_are_one_line(tmp_path, capsys, change, message):
    with pytest.raises(SystemExit) as ex:
        main(["design", "--config", _tiny_design(tmp_path, pretrain_steps=0, finetune_steps=0, **change),
              "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert ex.value.code == 2 and err.startswith(message) and "\n" not in err, err


class TestDSOCLIErrors(CLIContract):
    """Bad values, typos and bad checkpoints end in one line with exit 2; every shipped config
    fits one step."""

    main = staticmethod(main)

    @property
    def config_overrides(self) -> dict[str, list[str]]:
        """demo and paper read ZINC250k (the offline NCI molecules where it is absent): 300
        molecules, small batches, so the paper-sized model's one step takes seconds."""
        from latent_ebm.core.data import is_available

        data = [] if is_available("zinc250k") else ["--data.dataset", "nci5k"]
        small = [*data, "--data.limit", "300", "--data.batch_size", "8"]
        # the paper LPT's 15 posterior steps through a 256-wide GPT dominate the step: 2 here
        return {"demo": small, "paper": [*small, "--model.posterior.n_steps", "2"]}

    bad_args = (
        (["--model.objective_weights", "[1.0, 2.0]"], "model.objective_weights=[1.0, 2.0] is not allowed"),
        (["--model.n_latent", "-1"], "model.n_latent=-1 is not allowed"),
        (["--model.optim.lr", "0"], "model.optim.lr=0.0 is not allowed"),
        (["--data.limit", "0"], "data.limit=0 is not allowed"),
        (["--model.n_latnt", "3"], "did you mean --model.n_latent?"),
    )
