"""Tasks: the TFBind oracles are their tables, normalisation is 0 and 1 at the data's min and max,
the synthetic functions (the multi-modal mixture included) peak where they should, the UTR
stand-in oracle is the ridge solution, the rebuilt Superconductor oracle ranks the data, designs
of the wrong length or alphabet and empty datasets are one-line errors; the Grad. Mean and CMA-ES
baselines improve on the data."""

import math

import numpy as np
import pytest
import torch

from latent_ebm.core.data import cache_path
from latent_ebm.core.testing.plugin import requires_dataset
from latent_ebm.leo import LEODataModule, OfflineTask, make_task
from latent_ebm.leo.baselines import best_of_data, grad_mean
from latent_ebm.leo.metrics import diversity
from latent_ebm.leo.tasks import BRANIN_MAX, percentile_scores


@requires_dataset("tfbind8")
def test_tfbind8_oracle_is_the_table_and_normalises_to_0_and_1():
    task = make_task("tfbind8")
    x = torch.from_numpy(np.load(cache_path("tfbind8", "tf_bind_8-x-0.npy"))).long()
    y = torch.from_numpy(np.load(cache_path("tfbind8", "tf_bind_8-y-0.npy"))).flatten()
    last = {}
    for i, row in enumerate(x.tolist()):
        last[tuple(row)] = i  # Design-Bench's dict: the last row of a sequence wins
    pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:500]
    want = torch.stack([y[last[tuple(x[i].tolist())]] for i in pick])
    torch.testing.assert_close(task.score(x[pick]), want)
    scores = task.normalise(task.score(x))
    assert scores.min() == 0.0 and scores.max() == 1.0
    assert len(task.x_train) == int((y <= torch.quantile(y.double(), 0.5).float()).sum())


@requires_dataset("tfbind10")
def test_tfbind10_oracle_is_the_table():
    task = make_task("tfbind10", n_train=1000)
    data = np.load(cache_path("tfbind10", "tf_bind_10_pho4.npz"))
    table = torch.from_numpy(data["oracle_y"])
    x = torch.randint(0, 4, (500, 10), generator=torch.Generator().manual_seed(0))
    codes = (x * 4 ** torch.arange(9, -1, -1)).sum(1)
    torch.testing.assert_close(task.score(x), table[codes])
    best = torch.tensor([[0, 2, 2, 0, 3, 3, 2, 2, 3, 2]])  # the table's argmax (MANIFEST)
    assert task.normalise(task.score(best)).item() == pytest.approx(1.0)
    assert task.normalise(torch.tensor(task.y_min)).item() == 0.0
    assert float(task.y_train.max()) <= 0.0053282232  # the bottom half of the data


def test_synthetic_task_and_the_protocol_summary():
    task = make_task("synthetic-seq", n_train=200)
    all_x = torch.cartesian_prod(*[torch.arange(4)] * 8)
    s = task.normalise(task.score(all_x))
    assert s.min() == 0.0 and s.max() == 1.0
    assert percentile_scores(torch.tensor([0.0, 0.5, 1.0])) == {"p100": 1.0, "p50": 0.5}
    assert diversity(torch.tensor([[0, 0], [0, 1]]), True) == 0.5


def test_bad_designs_and_empty_data_are_one_line_errors():
    task = make_task("synthetic-seq", n_train=100)
    with pytest.raises(ValueError, match=r"x.shape=\(3, 7\) is not allowed"):
        task.score(torch.zeros(3, 7, dtype=torch.long))
    with pytest.raises(ValueError, match="tokens must lie in 0..3"):
        task.score(torch.full((3, 8), 4))
    with pytest.raises(ValueError, match="x_train=.* is not allowed"):
        OfflineTask("mine", torch.zeros(0, 8, dtype=torch.long), torch.zeros(0), task.oracle, 0.0, 1.0, 4)
    with pytest.raises(ValueError, match="data.n_train=0|n_train=0"):
        LEODataModule(n_train=0)


def test_grad_mean_baseline_improves_on_the_data():
    task = make_task("synthetic-seq", n_train=512)
    from latent_ebm.leo.baselines import fit_ensemble

    x = grad_mean(task, 32, steps=30, models=fit_ensemble(task, n_models=2, hidden=32, epochs=3))
    assert task.normalise(task.score(x)).max() >= task.normalise(task.score(best_of_data(task, 32))).max()


def test_c2st_tells_apart_only_different_samples():
    from latent_ebm.leo.metrics import c2st

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 4, generator=g), torch.randn(400, 4, generator=g)
    assert abs(c2st(a, b, steps=100) - 0.5) < 0.1
    assert c2st(a, b + 2.0, steps=100) > 0.9


def test_synthetic_functions_peak_at_their_known_optima():
    for name, dim, opt in (("ackley", 20, torch.zeros(1, 20)), ("rastrigin", 20, torch.zeros(1, 20)),
                           ("branin", 5, torch.tensor([[(math.pi + 5) / 15, 2.275 / 15, 0.3, 0.7, 0.1]]))):
        task = make_task(name, n_train=256, dim=dim)
        assert task.design_dim == dim and not task.discrete
        assert task.score(opt).item() == pytest.approx(task.y_max, abs=1e-4)
        assert task.normalise(task.score(opt)).item() == pytest.approx(1.0, abs=1e-4)
        assert float(task.y_train.max()) < task.y_max - 1.0  # the offline data sits far below the optimum
    branin = make_task("branin", n_train=64)
    minimisers = torch.tensor([[(-math.pi + 5) / 15, 12.275 / 15], [(math.pi + 5) / 15, 2.275 / 15],
                               [(9.42478 + 5) / 15, 2.475 / 15]])
    torch.testing.assert_close(branin.score(minimisers), torch.full((3,), BRANIN_MAX), atol=1e-4, rtol=0)
    assert LEODataModule(task="branin").hparams.dim is None  # the function's own default (2 for branin)


def test_mixture_peaks_at_its_highest_bump_and_trains_below_the_median():
    from latent_ebm.leo.tasks import MIXTURE_HEIGHTS, mixture_centres

    task = make_task("mixture", n_train=2048, seed=1)
    centres = mixture_centres(20)
    assert task.design_dim == 20 and task.y_max == 1.0 and task.bounds == (-5.0, 5.0)
    assert task.score(centres[:1]).item() == pytest.approx(1.0, abs=1e-6)  # the global maximum, exact
    assert task.normalise(task.score(centres[:1])).item() == pytest.approx(1.0, abs=1e-6)
    # every centre is a local maximum at its own height, and moving off it lowers the value
    torch.testing.assert_close(task.score(centres), torch.tensor(MIXTURE_HEIGHTS), atol=1e-6, rtol=0)
    nudged = centres + 0.3 * torch.randn(centres.shape, generator=torch.Generator().manual_seed(0))
    assert bool((task.score(nudged) < task.score(centres)).all())
    # the offline set is the lower half: about half of fresh uniform draws beat its best row
    fresh = 10 * torch.rand(8192, 20, generator=torch.Generator().manual_seed(7)) - 5
    assert abs(float((task.score(fresh) > task.y_train.max()).float().mean()) - 0.5) < 0.03
    assert len(task.y_train) == 2048 and float(task.normalise(task.y_train).max()) < 0.1
    assert float(centres.norm(dim=1).min()) > 5.0  # no bump sits at the box's centre


@requires_dataset("utr")
def test_utr_standin_oracle_is_the_ridge_solution_and_the_split_is_the_bottom_half():
    from latent_ebm.leo.tasks import _load_utr, _pair_codes, utr, utr_standin_oracle

    x, y = _load_utr()
    assert x.shape == (280_000, 50) and int(x.max()) == 3
    xs, ys = x[:2000], y[:2000]
    feats = torch.nn.functional.one_hot(_pair_codes(xs, 4), 49 * 16).sum(1).double()
    w = torch.linalg.solve(feats.T @ feats + 2.0 * torch.eye(49 * 16, dtype=torch.float64), feats.T @ ys.double())
    torch.testing.assert_close(utr_standin_oracle(xs, ys, ridge=2.0)(xs).double(), feats @ w, atol=1e-4, rtol=0)
    task = utr(n_train=300, oracle_rows=20_000)
    assert task.x_train.shape == (300, 50) and task.n_classes == 4 and "stand-in" in task.oracle_note
    assert float(task.y_train.max()) <= 7.1231375 + 1e-6  # the median: Design-Bench's max_percentile=50
    assert (task.y_min, task.y_max) == (0.0, 12.0)


@requires_dataset("superconductor-uci-90pct")
def test_superconductor_rebuilt_oracle_ranks_the_data_and_designs_are_standardised():
    pytest.importorskip("sklearn")
    from latent_ebm.leo.tasks import _load_superconductor, superconductor

    x, y = _load_superconductor()
    assert x.shape == (19_137, 86)
    task = superconductor(n_estimators=10)
    assert task.design_dim == 86 and not task.discrete and "rebuilt" in task.oracle_note
    assert len(task.y_train) == int((y <= torch.quantile(y.double(), 0.8).float()).sum())
    assert task.y_min == pytest.approx(0.00021) and task.y_max == pytest.approx(185.0)
    torch.testing.assert_close(task.x_train.mean(0).abs().max() < 0.5, torch.tensor(True))
    raw = task.raw_designs(task.x_train[:50])
    assert float(raw.min()) >= -1e-4  # element counts are non-negative
    pred = task.score((x[:2000] - task.x_mean) / task.x_std)  # the forest saw a sample of these rows
    rank = lambda v: v.argsort().argsort().double()  # noqa: E731
    assert torch.corrcoef(torch.stack([rank(pred), rank(y[:2000])]))[0, 1] > 0.8  # Spearman


def test_cma_es_baseline_improves_on_the_data():
    pytest.importorskip("cma")
    from latent_ebm.leo.baselines import cma_es, fit_ensemble

    for name in ("synthetic-seq", "rastrigin"):
        task = make_task(name, n_train=512)
        models = fit_ensemble(task, n_models=2, hidden=32, epochs=3)
        x = cma_es(task, 8, iterations=8, models=models)
        assert x.shape == (8, task.design_dim)
        assert task.normalise(task.score(x)).max() > task.normalise(task.score(best_of_data(task, 8))).max()
