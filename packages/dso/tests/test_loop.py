"""The dual-space loop: selection keeps exactly the top K with each molecule's own latent, the
budget is met exactly with failed calls counted, DSO improves a toy objective and beats its
latent-only ablation, a saved round resumes, bad inputs are one-line errors."""
import itertools

import pytest
import torch
from rdkit import Chem

import latent_ebm.lpt_mol.shift as shift
from latent_ebm.dso.loop import (
    DSO,
    MODES,
    check_budget,
    check_objective,
    loop_config,
    make_oracle,
    resume,
    run_dso,
    substructure_prefix,
    summarise,
)
from latent_ebm.lpt_mol.oracles import Oracle
from latent_ebm.lpt_mol.shift import ShiftState


def n_carbons(smiles: str) -> float:
    return float(sum(a.GetSymbol() == "C" for a in Chem.MolFromSmiles(smiles).GetAtoms()))


def n_oxygens(smiles: str) -> float:
    return float(sum(a.GetSymbol() == "O" for a in Chem.MolFromSmiles(smiles).GetAtoms()))


def test_modes_are_switches_of_one_loop():
    assert DSO.seeding == "first_party" and (DSO.per_round, DSO.pool_size, DSO.rounds) == (2500, 15000, 25)
    assert (DSO.design_langevin.n_steps, DSO.design_langevin.step_size, DSO.design_langevin.noise_scale) == (2, 0.3, 0.5)
    assert set(MODES) == {"dso", "latent_only", "data_only"}
    lat, dat = loop_config("latent_only"), loop_config("data_only")
    assert (lat.refit, lat.latent_sampling) == (False, True) and (dat.refit, dat.latent_sampling) == (True, False)
    assert loop_config("dso", per_round=7).per_round == 7 and loop_config("dso").refit


def test_selection_keeps_the_top_k_with_their_own_latents(tiny, monkeypatch):
    """Designs come with duplicates (within the round and of pooled molecules, some written
    differently); after selection the pool is exactly the top K of old ∪ new by value, and each
    molecule's latent is the one it entered with: nothing is scrambled."""
    model, vocab = tiny
    ident = {}  # canonical smiles -> id of the latent it entered with

    def lat(i):
        return torch.full(model.latent_shape, float(i))

    pool = [("CCO", 2.0), ("CCCCO", 4.0)]
    state = ShiftState(pool=list(pool), latents={"CCO": lat(100), "CCCCO": lat(101)})
    ident.update({"CCO": 100, "CCCCO": 101})
    rounds = [["CCCCCC", "CC", "CCCCCC", "OCC", "CCCCCCCC", "C(C)CCCCC", "CCN", "CCCCC"],
              ["CCCCCCCCC", "CC", "CCCCCCCC", "CCCCCCC", "CCCO", "CCCCO"]]
    calls = iter(range(len(rounds)))

    def fake_design(model, vocab, target, n, *, schedule, top_k, temperature, u0, generator):
        r = next(calls)
        smiles = rounds[r][:n]
        return smiles, torch.stack([lat(10 * r + i) for i in range(len(smiles))])

    monkeypatch.setattr(shift, "design", fake_design)
    cfg = loop_config("dso", seeding="pool", per_round=8, pool_size=5, refit=False, ring_sizes=None, rounds=2)
    oracle = Oracle(n_carbons)
    for r, smiles in enumerate(rounds):
        candidates = dict(state.pool)
        for i, s in enumerate(smiles[:cfg.per_round]):
            c = Chem.MolToSmiles(Chem.MolFromSmiles(s))
            candidates.setdefault(c, n_carbons(c))
            ident.setdefault(c, 10 * r + i)  # the first occurrence's latent, or the pooled one
        expected = sorted(candidates.items(), key=lambda t: -t[1])[:cfg.pool_size]
        shift.shift_round(model, vocab, oracle, state, cfg)
        assert [v for _, v in state.pool] == [v for _, v in expected]
        assert {s for s, _ in state.pool} == {s for s, _ in expected}
        assert set(state.latents) == {s for s, _ in state.pool}
        for s, _ in state.pool:
            assert torch.equal(state.latents[s], lat(ident[s])), s
    assert ident["CCCCCC"] == 0 and ident["CCCCCCCC"] == 4  # duplicates kept their first latent


def _fresh_designs():
    """Unique molecules forever: a chain of n carbons ending in O, and every third one in N."""
    for n in itertools.count(1):
        yield "C" * n + ("N" if n % 3 == 0 else "O")


def test_budget_is_met_exactly_and_failed_calls_are_counted(tiny, monkeypatch):
    """The loop stops at the budget, never after it, also when it is not a multiple of the round;
    a failed oracle call (here every N-terminated molecule, as a docking failure) is charged,
    counted per round and in the summary, and never enters the pool with a made-up score."""
    model, vocab = tiny
    gen = _fresh_designs()
    monkeypatch.setattr(shift, "design", lambda model, vocab, target, n, **k: (
        [next(gen) for _ in range(n)], torch.zeros(n, *model.latent_shape)))

    def flaky(smiles):
        if smiles.endswith("N"):
            raise RuntimeError("docking failed")
        return n_carbons(smiles)

    oracle = make_oracle(flaky, 45)
    cfg = loop_config("dso", per_round=20, pool_size=100, refit=False, ring_sizes=None, rounds=100)
    state = run_dso(model, vocab, oracle, [("CCO", 2.0)], cfg)
    assert oracle.calls == 45 and oracle.remaining == 0 and state.round == 3
    assert oracle.failures == 15 and sum(r["failures"] for r in state.log) == 15
    assert [r["calls"] for r in state.log] == [20, 40, 45]
    assert all(not s.endswith("N") for s, _ in state.pool) and len(state.pool) == 30
    assert summarise(oracle, 45)["failures"] == 15


def test_dso_improves_a_toy_objective_and_beats_latent_only(tiny):
    """Toy oracle: the number of oxygen atoms. From an untrained LPT, tiny DSO raises the pool's
    mean every round (the pool is full after round 0) and reaches a higher top-10 AUC than its
    latent-only ablation (no refit) at the same budget and seed."""
    model, vocab = tiny
    seeds = [("CCO", 1.0), ("CC", 0.0), ("OCCO", 2.0)]
    auc, means = {}, {}
    for mode in ("dso", "latent_only"):
        oracle = make_oracle(n_oxygens, 120)
        cfg = loop_config(mode, per_round=40, pool_size=20, rounds=20, refit_steps=4, batch_size=20, top_k=20,
                          shift=1.0)
        torch.manual_seed(0)
        m = type(model)(**{k: v for k, v in model.hparams.items() if k != "_instantiator"})
        m.load_state_dict(model.state_dict())
        m.vocab_state = model.vocab_state
        state = run_dso(m, vocab, oracle, seeds, cfg, generator=torch.Generator().manual_seed(0))
        auc[mode], means[mode] = summarise(oracle, 120)["top10_auc"], [r["pool_mean"] for r in state.log]
    assert oracle.calls == 120
    assert all(b > a for a, b in zip(means["dso"], means["dso"][1:])), means["dso"]
    assert auc["dso"] > auc["latent_only"], auc


def test_resume_from_a_saved_round(tiny, tmp_path, monkeypatch):
    """A run saved after its round resumes with the model, pool, latents, oracle cache and counts,
    and the generator's state, then runs on to the budget."""
    model, vocab = tiny
    gen = _fresh_designs()
    monkeypatch.setattr(shift, "design", lambda model, vocab, target, n, **k: (
        [next(gen) for _ in range(n)], torch.randn(n, *model.latent_shape)))
    path = tmp_path / "last_round.pt"
    oracle = make_oracle(n_carbons, 60)
    g = torch.Generator().manual_seed(0)
    cfg = loop_config("dso", per_round=20, pool_size=15, refit_steps=1, batch_size=8, ring_sizes=None, rounds=1)
    state = run_dso(model, vocab, oracle, [("CCO", 2.0)], cfg, generator=g, save_to=path)
    o2, g2 = make_oracle(n_carbons, 60), torch.Generator()
    m2, v2, s2 = resume(path, o2, g2)
    assert s2.round == 1 and s2.pool == state.pool and s2.log == state.log
    assert all(torch.equal(s2.latents[k], state.latents[k]) for k in state.latents)
    assert o2.calls == oracle.calls == 20 and o2.history == oracle.history and o2.budget == 60
    assert all(torch.equal(a, b) for a, b in zip(m2.state_dict().values(), model.state_dict().values()))
    assert type(m2) is type(model) and torch.equal(g2.get_state(), g.get_state()) and v2.itos == vocab.itos
    s3 = run_dso(m2, v2, o2, [], loop_config("dso", per_round=20, pool_size=15, refit_steps=1, batch_size=8,
                                             ring_sizes=None, rounds=10), state=s2, generator=g2, save_to=path)
    assert o2.calls == 60 and s3.round == 3 and [r["round"] for r in s3.log] == [0, 1, 2]


def test_one_line_errors(tiny):
    model, vocab = tiny
    cases = [
        (lambda: check_objective("logd"), "objective='logd' is not allowed; use one of"),
        (lambda: make_oracle("logd", 10), "objective='logd' is not allowed"),
        (lambda: run_dso(model, vocab, make_oracle("qed", 100), [], loop_config(per_round=10)),
         "seeds=[] is not allowed; the loop starts from scored molecules"),
        (lambda: check_budget(30, loop_config(per_round=40)),
         "budget=30 is not allowed; it is smaller than one round (per_round=40)"),
        (lambda: run_dso(model, vocab, make_oracle("qed", 5), [("CCO", 0.4)], loop_config(per_round=10)),
         "budget=5 is not allowed; it is smaller than one round"),
        (lambda: substructure_prefix("C1CC"), "substructure='C1CC' is not allowed; it is not a valid SMILES"),
        (lambda: substructure_prefix("[Te]CC", vocab), "substructure='[Te]CC' is not allowed; its SELFIES tokens"),
        (lambda: loop_config("both"), "mode='both' is not allowed"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value).startswith(message) and "\n" not in str(err.value), str(err.value)
