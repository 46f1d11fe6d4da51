"""``latent-ebm-dso design`` runs the tiny loop offline and resumes it; every shipped config fits
one step (``fit``, the LPT that DSO refits); bad values are one-line errors."""
import json

import pytest
import yaml

from latent_ebm.core.testing.cli import CLIContract
from latent_ebm.dso.cli import main
from latent_ebm.dso.run import load_settings


def _tiny_design(tmp_path, config="tiny", loop=None, **changes):
    s = load_settings(config)
    s.update(pretrain_steps=2, finetune_steps=2, budget=40)
    s.update(changes)
    s["loop"] = {**s["loop"], "refit_steps": 1, **(loop or {})}
    path = tmp_path / "design.yaml"
    path.write_text(yaml.safe_dump(s))
    return str(path)


def _designs(out):
    rows = [line.split("\t") for line in (out / "designs.tsv").read_text().splitlines()[1:]]
    return [(r[1], float(r[2])) for r in rows]


def test_design_multi_objective_tiny(tmp_path, capsys):
    """``multi_objective`` in a design config: three heads with the config's weights, the pool
    ranked by pLogP after LIMO's filter, and the summary's top-k equal to LIMO's protocol
    recomputed from every scored design (known answer: filter SA < 5.5 and QED > 0.4, top-k pLogP)."""
    from latent_ebm.lpt_mol.oracles import ORACLES

    shipped = load_settings("tiny-multi")
    assert shipped["multi_objective"]["properties"] == ["plogp", "qed", "sa"]
    assert shipped["multi_objective"]["weights"] == [1.0, 1.0, 0.5]
    out = tmp_path / "run"
    small = {"data": {"dataset": "nci5k", "limit": 150, "batch_size": 32}, "budget": 10}
    summary = main(["design", "--config", _tiny_design(tmp_path, "tiny-multi", loop={"per_round": 10}, **small),
                    "--out", str(out)])
    assert summary["calls"] == 10 and summary["limo"]["weights"] == [1.0, 1.0, 0.5]
    rows = [{"smiles": x, **{p: ORACLES[p](x) for p in ("plogp", "qed", "sa")}} for x, _ in _designs(out)]
    kept = sorted((r for r in rows if r["sa"] < 5.5 and r["qed"] > 0.4), key=lambda r: -r["plogp"])
    assert summary["limo"]["feasible"] == len(kept)
    assert [r["smiles"] for r in summary["limo"]["top"]] == [r["smiles"] for r in kept[:2]]
    for (_, v), r in zip(_designs(out), rows, strict=True):  # the oracle's value is LIMO's ranking score
        assert v == pytest.approx(r["plogp"] if r["sa"] < 5.5 and r["qed"] > 0.4 else r["plogp"] - 10.0, abs=1e-6)
    assert "pass LIMO's filter" in capsys.readouterr().err


def test_design_similarity_tiny(tmp_path, capsys):
    """``similarity`` in a design config: every design scores its pLogP improvement over the start
    when Tanimoto >= delta (else 10 below), and the summary's best improvement per threshold is
    the one recomputed from the scored designs."""
    from latent_ebm.dso.loop import tanimoto
    from latent_ebm.lpt_mol.oracles import penalized_logp

    start = load_settings("tiny-similarity")["similarity"]["start"]
    out = tmp_path / "run"
    small = {"data": {"dataset": "nci5k", "limit": 150, "batch_size": 32}, "budget": 10}
    summary = main(["design", "--config", _tiny_design(tmp_path, "tiny-similarity", **small), "--out", str(out)])
    sim = summary["similarity"]
    assert summary["calls"] == 10 and sim["start"] == "CC(=O)Nc1ccc(O)cc1"
    base = penalized_logp(start)
    assert sim["start_plogp"] == pytest.approx(base)
    designs = [(x, v, penalized_logp(x) - base, tanimoto(x, start)) for x, v in _designs(out)]
    for _, v, gain, t in designs:
        assert v == pytest.approx(gain if t >= 0.4 else gain - 10.0, abs=1e-6)
    for d in (0.4, 0.6):
        gains = [g for x, _, g, t in designs if t >= d and x != sim["start"]]
        assert sim[f"sim{d}"]["best_gain"] == (pytest.approx(max(gains)) if gains else None)
    assert "similarity >= 0.4: best pLogP improvement" in capsys.readouterr().err


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
    ({"objective": "plogp", "multi_objective": {"properties": ["plogp", "qed", "sa"], "weights": [1.0, 1.0]}},
     "error: multi_objective.weights=[1.0, 1.0] is not allowed; give one finite weight >= 0 per property"),
    ({"objective": "plogp", "multi_objective": {"properties": ["plogp", "qed", "sa"], "weights": [1.0, -1.0, 1.0]}},
     "error: multi_objective.weights=[1.0, -1.0, 1.0] is not allowed"),
    ({"objective": "plogp", "multi_objective": {"properties": ["plogp", "qed"]}}, "error: multi_objective.properties=('plogp', 'qed')"),
    ({"objective": "plogp", "multi_objective": {"properties": ["plogp", "qed", "sa"], "top_k": 0}}, "error: multi_objective.top_k=0"),
    ({"objective": "plogp", "multi_objective": {"properties": ["plogp", "qed", "sa"], "topk": 2}}, "error: multi_objective.topk=2"),
    ({"objective": "plogp", "multi_objective": {"properties": ["plogp", "qed", "sa"], "qed_min": 2}}, "error: multi_objective.qed_min=2"),
    ({"multi_objective": {"properties": ["qed", "sa"]}}, "error: objective='qed' is not allowed; in multi-objective"),
    ({"similarity": {"delta": 1.5}}, "error: objective='qed' is not allowed; similarity-constrained design"),
    ({"objective": "plogp", "similarity": {"delta": 1.5}}, "error: similarity.delta=1.5 is not allowed"),
    ({"objective": "plogp", "similarity": {"start": "C1CC"}}, "error: similarity.start='C1CC' is not allowed"),
    ({"objective": "plogp", "similarity": {"report": []}}, "error: similarity.report=[] is not allowed"),
    ({"objective": "plogp", "similarity": {"anchor_weight": -1}}, "error: similarity.anchor_weight=-1"),
    ({"objective": "plogp", "similarity": {}, "loop": {"seeding": "first_party"}},
     "error: loop.seeding='first_party' is not allowed; similarity design seeds the pool"),
    ({"objective": "plogp", "similarity": {}, "multi_objective": {}}, "error: config='multi_objective + similarity'"),
    ({"objective": "plogp", "similarity": {"start": "[Xe]"}, "data": {"dataset": "nci5k", "limit": 60}},
     "error: similarity.start='[Xe]' is not allowed; the model cannot encode it"),
])
def test_design_errors_are_one_line(tmp_path, capsys, change, message):
    change = dict(change)
    loop = change.pop("loop", None)
    with pytest.raises(SystemExit) as ex:
        main(["design", "--config", _tiny_design(tmp_path, loop=loop, pretrain_steps=0, finetune_steps=0, **change),
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
