"""Tasks: the TFBind oracles are their tables, normalisation is 0 and 1 at the data's min and max,
designs of the wrong length or alphabet and empty datasets are one-line errors."""

import numpy as np
import pytest
import torch

from latent_ebm.core.data import cache_path
from latent_ebm.core.testing.plugin import requires_dataset
from latent_ebm.leo import LEODataModule, OfflineTask, make_task
from latent_ebm.leo.baselines import best_of_data, grad_mean
from latent_ebm.leo.metrics import diversity
from latent_ebm.leo.tasks import percentile_scores


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
