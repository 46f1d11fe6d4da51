"""Multi-objective design with LIMO's protocol and the similarity-constrained objective: the
ranking puts feasible molecules first, the model's targets are the per-property values, the
summaries follow the protocols, and a tiny loop runs with three property heads."""
import pytest
import torch

from latent_ebm.dso import DSOModule
from latent_ebm.dso.loop import (
    LimoObjective,
    SimilarityObjective,
    limo_summary,
    limo_top,
    loop_config,
    run_dso,
    similarity_summary,
    tanimoto,
)
from latent_ebm.lpt_mol.data import SelfiesVocab
from latent_ebm.lpt_mol.oracles import Oracle, penalized_logp, qed, sa

TINY = dict(max_len=40, n_latent=2, latent_dim=16, unet_base=8, unet_multipliers=(1, 2), d_model=32, n_layers=1, n_heads=2,
            dropout=0.0, phase="finetune", posterior={"n_steps": 2, "step_size": 0.3, "noise_scale": 0.5})

# paracetamol and ibuprofen pass LIMO's filter; icosane (QED 0.24) fails it with the highest pLogP (7.0)
PASS = ("CC(=O)Nc1ccc(O)cc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1")
FAIL = "CCCCCCCCCCCCCCCCCCCC"


def test_limo_ranks_feasible_first_and_targets_are_the_properties():
    obj = LimoObjective(("plogp", "qed", "sa"), "plogp", penalty=100.0)
    for s in PASS:
        assert obj.feasible(s) and obj(s) == pytest.approx(penalized_logp(s))
        assert obj.objectives(s) == pytest.approx((penalized_logp(s), qed(s), sa(s)))
    assert not obj.feasible(FAIL) and obj(FAIL) == pytest.approx(penalized_logp(FAIL) - 100.0)
    assert penalized_logp(FAIL) > max(penalized_logp(s) for s in PASS) and obj(FAIL) < min(obj(s) for s in PASS)
    oracle = Oracle(obj, budget=10)
    oracle([FAIL, *PASS])
    summ = limo_summary(oracle, obj, 10, k=3)
    best = max(PASS, key=penalized_logp)
    assert summ["feasible"] == 2 and summ["top1"] == pytest.approx(penalized_logp(best)) and summ["top3"] is None
    assert summ["top"][0]["smiles"] == best and oracle.calls == 3
    rows = [{"kd_nm": 5.0, "qed": 0.5, "sa": 3.0}, {"kd_nm": 1.0, "qed": 0.3, "sa": 3.0}, {"kd_nm": 2.0, "qed": 0.6,
                                                                                           "sa": 5.6}]
    assert limo_top(rows, k=2) == rows[:1]  # K_D 1 fails QED, K_D 2 fails SA


def test_similarity_objective_scores_improvement_under_the_constraint():
    start = "CC(=O)Nc1ccc(O)cc1"
    obj = SimilarityObjective(start, 0.4, penalty=100.0)
    assert tanimoto(start, start) == 1.0 and obj(start) == 0.0
    near, far = "CC(=O)Nc1ccc(Cl)cc1", FAIL  # similarity 0.64 (gain 1.1) and 0.04 (gain 7.0)
    assert 0.99 > tanimoto(near, start) >= 0.4 > tanimoto(far, start)
    assert obj(near) == pytest.approx(penalized_logp(near) - penalized_logp(start))
    assert obj(far) == pytest.approx(penalized_logp(far) - penalized_logp(start) - 100.0)
    assert obj.objectives(near) == pytest.approx((penalized_logp(near),))
    oracle = Oracle(obj, budget=5)
    oracle([near, far])
    summ = similarity_summary(oracle, obj, (0.4, 0.99))
    gain = penalized_logp(near) - penalized_logp(start)
    assert summ["sim0.4"]["best_gain"] == pytest.approx(gain) and summ["sim0.4"]["success"] and gain > 0
    assert summ["sim0.99"] == {"best_gain": None, "success": False}


def test_objective_errors_are_one_line():
    cases = [(lambda: LimoObjective(("plogp", "qed")), "properties=('plogp', 'qed') is not allowed"),
             (lambda: LimoObjective(("plogp", "qed", "sa"), "qed"), "primary='qed' is not allowed"),
             (lambda: SimilarityObjective("C1CC", 0.4), "start='C1CC' is not allowed"),
             (lambda: SimilarityObjective("CCO", 1.5), "delta=1.5 is not allowed")]
    for call, message in cases:
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value).startswith(message) and "\n" not in str(err.value), str(err.value)


def test_tiny_multi_objective_and_anchored_loops_run(nci_dm):
    """Three property heads, LIMO ranking, per-property shifts; then a similarity-constrained run
    with the anchor term: both spend their budgets and keep one target vector per pool molecule."""
    torch.manual_seed(0)
    model = DSOModule(vocab_size=len(nci_dm.vocab), **{**TINY, "properties": ("plogp", "qed", "sa")},
                      objective_weights=(1.0, 1.0, 0.5))
    model.vocab_state = nci_dm.vocab.state_dict()
    vocab = SelfiesVocab.from_state(model.vocab_state)
    obj = LimoObjective()
    oracle = Oracle(obj, budget=20)
    cfg = loop_config("dso", seeding="pool", per_round=10, pool_size=8, refit_steps=1, batch_size=8, rounds=5, top_k=20,
                      ring_sizes=None, shift=(0.5, 0.05, -0.3), objectives=obj.objectives)
    state = run_dso(model, vocab, oracle, [(s, obj(s)) for s in PASS], cfg, generator=torch.Generator().manual_seed(0))
    assert oracle.calls == 20 and set(state.props) == {s for s, _ in state.pool}
    assert all(len(v) == 3 for v in state.props.values())
    one = DSOModule(vocab_size=len(nci_dm.vocab), **{**TINY, "properties": ("plogp",)})
    one.vocab_state = model.vocab_state
    sim = SimilarityObjective(PASS[0], 0.4)
    oracle = Oracle(sim, budget=10)
    cfg = loop_config("dso", seeding="pool", per_round=10, pool_size=5, refit_steps=1, batch_size=8, rounds=5, top_k=20,
                      ring_sizes=None, shift=0.5, anchor_weight=1.0, objectives=sim.objectives)
    state = run_dso(one, vocab, oracle, [(sim.start, 0.0)], cfg, generator=torch.Generator().manual_seed(0))
    assert oracle.calls == 10 and state.anchor is not None and state.anchor.shape == one.latent_shape
