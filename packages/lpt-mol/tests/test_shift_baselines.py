"""Shifting loop budget and mid-run resume; GA and random baselines under a budget."""
from dataclasses import replace

import pytest
import torch

from latent_ebm.lpt_mol import LPTMolModule
from latent_ebm.lpt_mol.data import SelfiesVocab
from latent_ebm.lpt_mol.ga import graph_ga, random_baseline
from latent_ebm.lpt_mol.oracles import Oracle
from latent_ebm.lpt_mol.shift import ShiftConfig, ShiftState, load_round, run_shifting, save_round

TINY = dict(n_latent=2, latent_dim=32, unet_base=8, unet_multipliers=(1, 2), d_model=32, n_layers=1, n_heads=2,
            posterior={"n_steps": 2, "step_size": 0.3, "noise_scale": 0.5}, seed=0)


def test_shift_budget_and_resume(zinc_dm, tmp_path):
    torch.manual_seed(0)
    model = LPTMolModule(**TINY, phase="finetune")
    model.vocab_state = zinc_dm.vocab.state_dict()
    vocab = SelfiesVocab.from_state(model.vocab_state)
    oracle = Oracle("qed", budget=50)
    cfg = ShiftConfig(rounds=1, per_round=30, refit_steps=2, batch_size=16)
    g = torch.Generator().manual_seed(0)
    state = run_shifting(model, vocab, oracle, ShiftState(pool=[(s, 0.5) for s in zinc_dm.smiles[:20]]), cfg, g)
    assert state.round == 1 and state.latents and set(state.latents) <= {s for s, _ in state.pool}
    assert all(z.shape == (2, 32) for z in state.latents.values())
    save_round(tmp_path / "r.pt", model, oracle, state, g)
    o2, g2 = Oracle("qed"), torch.Generator()
    m2, s2 = load_round(tmp_path / "r.pt", o2, g2)
    assert s2.pool == state.pool and o2.calls == oracle.calls
    assert s2.latents.keys() == state.latents.keys()
    assert all(torch.equal(s2.latents[k], state.latents[k]) for k in state.latents)
    assert all(torch.equal(a, b) for a, b in zip(m2.state_dict().values(), model.state_dict().values()))
    assert torch.equal(g2.get_state(), g.get_state())
    run_shifting(m2, vocab, o2, s2, ShiftConfig(rounds=3, per_round=30, refit_steps=1, batch_size=16), g2)
    assert o2.calls <= 50 and o2.remaining >= 0


def test_ga_beats_random_start_and_respects_budget(zinc_dm):
    start = zinc_dm.smiles[:200]
    o_ga = Oracle("qed", budget=400)
    graph_ga(o_ga, start, population=50, offspring=50, seed=0)
    o_rand = Oracle("qed", budget=400)
    random_baseline(o_rand, zinc_dm.smiles, seed=0)
    assert o_ga.calls <= 400 and o_rand.calls <= 400
    init_best = max(Oracle("qed")(start[:50]))
    assert o_ga.top_k(1)[0][1] >= init_best
    assert len({s for _, s, _ in o_ga.history}) == len(o_ga.history)  # no double scoring


def test_round_starts_chains_at_pool_latents_with_per_molecule_targets(zinc_dm, monkeypatch):
    """The LPT / DSO online loop: chains start at the latents of the best pool molecules (cycled),
    each toward its own value + shift; new molecules enter the pool with the latent they came from."""
    import latent_ebm.lpt_mol.shift as shift

    model = LPTMolModule(**TINY, phase="finetune")
    model.vocab_state = zinc_dm.vocab.state_dict()
    vocab = SelfiesVocab.from_state(model.vocab_state)
    pool = [("CCO", 0.9), ("c1ccccc1", 0.5), ("CC(=O)O", 0.2)]
    stored = torch.full((2, 32), 7.0)
    state = ShiftState(pool=list(pool), latents={"CCO": stored})
    seen = {}

    def fake_design(model, vocab, target, n, *, schedule, top_k, temperature, u0, generator):
        seen.update(target=target.clone(), u0=u0.clone(), schedule=schedule, top_k=top_k, temperature=temperature)
        return ["CCN", "CCCl", "CCO", "not a molecule", "CCCC"], u0 + 1.0

    monkeypatch.setattr(shift, "design", fake_design)
    cfg = ShiftConfig(per_round=5, shift=0.1, pool_size=4, refit_steps=0, top_k=5, temperature=0.7, ring_sizes=None)
    new = shift.shift_round(model, vocab, Oracle("qed"), state, cfg, torch.Generator().manual_seed(0))
    assert torch.allclose(seen["target"][:, 0], torch.tensor([1.0, 0.6, 0.3, 1.0, 0.6]))
    assert torch.equal(seen["u0"][0], stored) and torch.equal(seen["u0"][3], stored)
    assert torch.equal(seen["u0"][1], seen["u0"][4]) and not torch.equal(seen["u0"][1], stored)
    assert seen["schedule"] == cfg.design_langevin
    assert (seen["top_k"], seen["temperature"]) == (5, 0.7)  # the round decodes with the config's settings
    assert len(new) == 4  # the invalid string is not scored
    assert len(state.pool) == 4 and set(state.latents) == {s for s, _ in state.pool}
    assert torch.equal(state.latents["CCO"], stored)  # a molecule already pooled keeps its latent
    if "CCN" in state.latents:
        assert torch.equal(state.latents["CCN"], seen["u0"][0] + 1.0)


@pytest.mark.parametrize("bad", [dict(temperature=-0.5), dict(top_k=0), dict(per_round=0), dict(refit_steps=-1),
                                 dict(ring_sizes=(2, 6)), dict(ring_sizes=()), dict(resample=-1)])
def test_shift_config_rejects_bad_values(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=f"{name}="):
        ShiftConfig(**bad)


def test_ring_filter_redecodes_then_drops(zinc_dm, monkeypatch):
    """Designs with a ring outside (5, 6) are decoded again from their own latent; those still
    failing after ``resample`` tries are dropped unscored and counted (released loop, step c)."""
    from latent_ebm.lpt_mol import shift

    torch.manual_seed(0)
    model = LPTMolModule(**TINY, phase="finetune")
    model.vocab_state = zinc_dm.vocab.state_dict()
    vocab = SelfiesVocab.from_state(model.vocab_state)
    state = ShiftState(pool=[("CCO", 0.9), ("CCN", 0.8), ("CCC", 0.7)])
    latent = {i: torch.full((2, 32), float(i)) for i in range(3)}
    monkeypatch.setattr(shift, "design", lambda *a, **k: (["C1CCCCCCC1", "c1ccccc1", "C1CC1"],
                                                           torch.stack([latent[i] for i in range(3)])))
    redecoded = []

    def fake_decode(model, u, vocab, *, top_k, temperature, generator):
        redecoded.append(u[:, 0, 0].tolist())
        # the cyclooctane chain turns into cyclohexane on its second try; cyclopropane never passes
        return ["C1CCCCC1" if (v == 0.0 and len(redecoded) == 2) else "C1CC1" for v in u[:, 0, 0].tolist()]

    monkeypatch.setattr(shift, "decode", fake_decode)
    oracle = Oracle("qed")
    cfg = ShiftConfig(per_round=3, pool_size=10, refit_steps=0, resample=3)
    new = shift.shift_round(model, vocab, oracle, state, cfg, torch.Generator().manual_seed(0))
    assert redecoded == [[0.0, 2.0], [0.0, 2.0], [2.0]]  # only failing designs, from their own latents
    assert sorted(s for s, _ in new) == ["C1CCCCC1", "c1ccccc1"] and oracle.calls == 2
    assert state.rejected == 1 and torch.equal(state.latents["C1CCCCC1"], latent[0])


def test_baselines_skip_filtered_molecules():
    from latent_ebm.lpt_mol.filters import ring_sizes_ok

    assert ring_sizes_ok("c1ccccc1") and ring_sizes_ok("CCO") and ring_sizes_ok("C1CCCC1")
    assert not ring_sizes_ok("C1CC1") and not ring_sizes_ok("C1CCCCCCC1") and not ring_sizes_ok("C1CC(")
    pool = ["C1CC1C", "c1ccccc1O", "C1CCCCCCC1", "CCCO", "C1CCOC1"]
    o = Oracle("qed", budget=10)
    random_baseline(o, pool, seed=0, keep=ring_sizes_ok)
    assert o.calls == 3 and {s for _, s, _ in o.history} == {"Oc1ccccc1", "CCCO", "C1CCOC1"}
    o = Oracle("qed", budget=10)
    graph_ga(o, pool, population=5, offspring=5, seed=0, max_generations=3, keep=ring_sizes_ok)
    assert all(ring_sizes_ok(s) for _, s, _ in o.history) and o.calls >= 3


def test_first_party_seeding_targets_from_seeds_random_latents_own_pool(zinc_dm, monkeypatch):
    """LPT 11, the released loop's seeding (``seeding="first_party"``, the paper preset): round 0
    takes its targets (value + shift) from the seed molecules, starts at N(0, I) (never at a seed's
    inferred latent), and afterwards the pool holds only the loop's own designs."""
    import latent_ebm.lpt_mol.shift as shift

    model = LPTMolModule(**TINY, phase="finetune")
    model.vocab_state = zinc_dm.vocab.state_dict()
    vocab = SelfiesVocab.from_state(model.vocab_state)
    seeds = [("CCO", 0.9), ("c1ccccc1", 0.5), ("CC(=O)O", 0.2)]
    seen = {}

    def fake_design(model, vocab, target, n, *, schedule, top_k, temperature, u0, generator):
        seen.update(target=target.clone(), u0=u0.clone())
        return ["CCN", "CCCl", "CCCC"], u0 + 1.0

    monkeypatch.setattr(shift, "design", fake_design)
    monkeypatch.setattr(shift, "pool_latents", lambda *a, **k: pytest.fail("round 0 must not infer seed latents"))
    assert shift.FIRST_PARTY_SHIFTING.seeding == "first_party" and shift.GRADUAL_SHIFTING.seeding == "pool"
    assert set(shift.DIFFERENCES) >= {"seeding", "pool_size", "per_round"}
    cfg = replace(shift.FIRST_PARTY_SHIFTING, per_round=3, refit=False, ring_sizes=None)
    shift.shift_round(model, vocab, Oracle("qed"), state := ShiftState(pool=list(seeds)), cfg,
                      torch.Generator().manual_seed(0))
    assert sorted(seen["target"][:, 0].tolist()) == pytest.approx([0.3, 0.6, 1.0])  # each seed once, + 0.1
    assert {s for s, _ in state.pool} == {"CCN", "CCCl", "CCCC"}  # the seeds left the pool
    assert state.log[0]["new_calls"] == 3 and state.log[0]["round"] == 0
    # from round 1 on, chains start at the pooled designs' own latents (the default seeding never drops seeds)
    monkeypatch.setattr(shift, "pool_latents", lambda model, vocab, st, entries, cfg, g: torch.stack(
        [st.latents[s] for s, _ in entries]))
    shift.shift_round(model, vocab, Oracle("qed"), state, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(seen["u0"][0], state.latents.get(state.pool[0][0], seen["u0"][0]))


def test_data_only_and_latent_only_switches(zinc_dm, monkeypatch):
    """``latent_sampling=False`` decodes at the start latents with no Langevin step;
    ``refit=False`` leaves the model's weights untouched."""
    import latent_ebm.lpt_mol.shift as shift

    model = LPTMolModule(**TINY, phase="finetune")
    model.vocab_state = zinc_dm.vocab.state_dict()
    vocab = SelfiesVocab.from_state(model.vocab_state)
    stored = torch.full((2, 32), 3.0)
    state = ShiftState(pool=[("CCO", 0.9)], latents={"CCO": stored})
    monkeypatch.setattr(shift, "design", lambda *a, **k: pytest.fail("data-only must not sample latents"))
    decoded = []
    monkeypatch.setattr(shift, "decode", lambda model, u, vocab, **k: decoded.append(u.clone()) or ["CCN"] * len(u))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = ShiftConfig(per_round=2, refit=False, latent_sampling=False, ring_sizes=None)
    shift.shift_round(model, vocab, Oracle("qed"), state, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(decoded[0], torch.stack([stored, stored]))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(state.latents["CCN"], stored)  # a design carries the latent it was decoded from


def test_objectives_give_vector_targets_and_the_oracle_only_ranks(zinc_dm, monkeypatch, tmp_path):
    """Multi-objective design (DSO): the oracle's scalar ranks the pool, the per-property values of
    ``objectives`` are the chains' targets (+ one shift per property) and the refit's labels."""
    import latent_ebm.lpt_mol.shift as shift

    model = LPTMolModule(**{**TINY, "properties": ("qed", "sa")}, phase="finetune")
    model.vocab_state = zinc_dm.vocab.state_dict()
    vocab = SelfiesVocab.from_state(model.vocab_state)
    table = {"CCO": (0.4, 2.0), "c1ccccc1": (0.5, 1.0), "CCN": (0.3, 3.0), "CCCl": (0.6, 4.0)}
    seen = {}

    def fake_design(model, vocab, target, n, *, schedule, top_k, temperature, u0, generator):
        seen["target"] = target.clone()
        return ["CCN", "CCCl"], u0

    monkeypatch.setattr(shift, "design", fake_design)
    fitted = []
    monkeypatch.setattr(shift, "TokenDataset", lambda x, y: fitted.append(y) or pytest.skip("refit reached"))
    rank = {"CCN": 5.0, "CCCl": -1.0}  # the oracle ranks CCN first although its QED is lowest
    cfg = ShiftConfig(per_round=2, shift=(0.1, -0.5), pool_size=3, refit_steps=0, ring_sizes=None,
                      objectives=lambda s: table[s])
    state = ShiftState(pool=[("c1ccccc1", 1.0), ("CCO", 0.0)])
    shift.shift_round(model, vocab, Oracle(lambda s: rank[s]), state, cfg, torch.Generator().manual_seed(0))
    assert torch.allclose(seen["target"], torch.tensor([[0.6, 0.5], [0.5, 1.5]]))
    assert [s for s, _ in state.pool] == ["CCN", "c1ccccc1", "CCO"]
    assert state.props == {s: table[s] for s, _ in state.pool}  # kept with the pool, dropped with it
    save_round(tmp_path / "r.pt", model, Oracle("qed"), state)
    _, again = load_round(tmp_path / "r.pt", Oracle("qed"))
    assert again.props == state.props
    with pytest.raises(ValueError, match="shift"):
        shift.shift_round(model, vocab, Oracle(lambda s: 0.0), ShiftState(pool=[("CCO", 0.0)]),
                          replace(cfg, shift=(0.1, 0.2, 0.3)), torch.Generator())


def test_anchor_term_pulls_design_latents_toward_the_reference():
    """Constrained design: (lambda/2)|z0 - z0_ref|^2 in the design energy keeps the chains near the
    start molecule's latent; lambda = 0 is the plain design energy."""
    import latent_ebm.lpt_mol.shift as shift
    from latent_ebm.core.samplers import LangevinSchedule

    model = LPTMolModule(**TINY, vocab_size=30, phase="finetune")
    ref = torch.full((2, 32), 2.0)
    u0 = torch.randn(8, 2, 32, generator=torch.Generator().manual_seed(0))
    target = torch.full((8, 1), 0.5)
    sched = LangevinSchedule(n_steps=30, step_size=0.5, noise_scale=0.0)

    def dist(weight):
        cfg = ShiftConfig(anchor_weight=weight, design_langevin=sched)
        u = shift._anchored_latents(model, target, u0, ref, cfg, torch.Generator().manual_seed(0))
        return (u - ref).norm(dim=(1, 2)).mean().item()

    assert dist(5.0) < 0.3 * dist(0.0)
    with pytest.raises(ValueError, match="anchor_weight"):
        ShiftConfig(anchor_weight=-1.0)
