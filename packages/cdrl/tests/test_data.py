import pytest
import torch

from latent_ebm.cdrl import CDRLDataModule, ToyDensity
from latent_ebm.cdrl.data import load_idx_images, synthetic_images, synthetic_rgb_images
from latent_ebm.core.testing.plugin import requires_dataset


def test_toy_mixture_density_is_normalised_and_sampled_with_its_weights():
    d = ToyDensity("mixture")
    g = torch.linspace(-3, 3, 301)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    mass = d.log_prob(torch.stack([xx.flatten(), yy.flatten()], 1)).exp().sum() * (g[1] - g[0]) ** 2
    assert mass.item() == pytest.approx(1.0, abs=1e-3)
    x = d.sample(20000, torch.Generator().manual_seed(0))
    w = torch.bincount(d.assign(x), minlength=4).double() / len(x)
    torch.testing.assert_close(w, d.weights, atol=0.015, rtol=0)


@pytest.mark.parametrize("name", ["rings", "checkerboard"])
def test_other_toys_shapes(name):
    x = ToyDensity(name).sample(500)
    assert x.shape == (500, 2) and x.abs().max() < 2.0


def test_synthetic_images_offline():
    x, y = synthetic_images(16)
    assert x.shape == (16, 1, 32, 32) and set(x.unique().tolist()) <= {-1.0, 1.0} and y.max() < 4


@requires_dataset("fashion-mnist")
def test_fashion_mnist_padded_to_32():
    dm = CDRLDataModule("fashion-mnist", batch_size=8, n_train=64, n_val=16)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    x, y = batch["x"], batch["y"]
    assert set(batch) == {"x", "y", "index"} and batch["index"].dtype == torch.int64
    assert x.shape == (8, 1, 32, 32) and dm.data_shape == (1, 32, 32)
    assert x.min() >= -1 and x.max() <= 1 and (x[..., :2, :] == -1).all()  # padding
    assert y.dtype == torch.int64 and y.min() >= 0 and y.max() <= 9


@pytest.mark.parametrize("kw, name", [({"dataset": "cifar100"}, "dataset"), ({"batch_size": 0}, "batch_size"),
                                      ({"n_val": 1}, "n_val"), ({"n_train": 0}, "n_train")])
def test_bad_settings_name_their_option(kw, name):
    with pytest.raises(ValueError, match=f"{name}=.* is not allowed"):
        CDRLDataModule(**kw)


def test_batches_are_dicts_with_index():
    dm = CDRLDataModule("mixture", batch_size=8, n_train=32, n_val=8)
    dm.setup("fit")
    for loader in (dm.train_dataloader(), dm.val_dataloader()):
        batch = next(iter(loader))
        assert set(batch) == {"x", "y", "index"}
        assert batch["x"].shape[1:] == (2,) and batch["y"].dtype == torch.int64
    seen = torch.cat([b["index"] for b in dm.train_dataloader()])
    assert sorted(seen.tolist()) == list(range(32))  # every index once, in a shuffled order
    torch.testing.assert_close(torch.cat([b["x"] for b in dm.train_dataloader()]), dm.train_set.x[seen])


def test_flips_are_keyed_by_seed_epoch_and_index_not_the_global_rng():
    """A resumed run must see the same augmented batches: flips depend on (seed, epoch, index)."""
    dm = CDRLDataModule("synthetic", batch_size=8, n_train=64, n_val=2, random_flip=True)
    dm.setup("fit")
    x_all = dm.train_set.x

    def epoch_batches(epoch, global_seed):
        torch.manual_seed(global_seed)
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(epoch)
        return [(b["x"], b["y"], b["index"]) for b in loader]

    a, b, c = epoch_batches(0, 1), epoch_batches(0, 2), epoch_batches(1, 1)
    for (xa, ya, ia), (xb, yb, ib) in zip(a, b):
        assert torch.equal(ia, ib) and torch.equal(xa, xb) and torch.equal(ya, yb)
    flipped = [(x != x_all[i]).flatten(1).any(1) for x, _, i in a]
    for (x, _, i), f in zip(a, flipped):
        assert torch.equal(x[f], x_all[i][f].flip(-1)) and torch.equal(x[~f], x_all[i][~f])
    frac = torch.cat(flipped).float().mean()
    assert 0.25 < frac < 0.75  # about half flipped (some synthetic images may be symmetric)
    flips0 = {int(j): bool(f) for (_, _, i), fl in zip(a, flipped) for j, f in zip(i, fl)}
    flips1 = {int(j): bool(f) for (x, _, i) in c for j, f in zip(i, (x != x_all[i]).flatten(1).any(1))}
    assert flips0 != flips1  # a new epoch draws new flips


@requires_dataset("fashion-mnist")
def test_test_split_is_held_out_images_apart_from_validation():
    """Validation: n_val images of a permutation of the test file (as before); test: the next n_test."""
    dm = CDRLDataModule("fashion-mnist", n_train=64, n_val=32, n_test=48)
    dm.setup("validate")
    dm.setup("test")
    assert dm.train_set is None and len(dm.val_set) == 32 and len(dm.test_set) == 48
    x_test, _ = load_idx_images("fashion-mnist", "test")
    perm = torch.randperm(len(x_test), generator=torch.Generator().manual_seed(1))
    assert torch.equal(dm.val_set.x, x_test[perm[:32]]) and torch.equal(dm.test_set.x, x_test[perm[32:80]])
    batch = next(iter(dm.test_dataloader()))
    assert batch["x"].shape == (48, 1, 32, 32)
    with pytest.raises(ValueError, match="n_val=10000 is not allowed"):
        CDRLDataModule("fashion-mnist", n_val=10000).setup("test")


@pytest.mark.parametrize("name", ["mixture", "synthetic", "synthetic-rgb"])
def test_generated_sets_draw_each_split_from_its_own_seed(name):
    dm = CDRLDataModule(name, n_train=16, n_val=8)
    dm.setup()
    assert len(dm.test_set) == 8  # n_test: as many as n_val
    shape = (2,) if name == "mixture" else (3, 32, 32) if name == "synthetic-rgb" else (1, 32, 32)
    assert dm.data_shape == shape and dm.test_set.x.shape == (8, *shape)
    assert not torch.equal(dm.test_set.x, dm.val_set.x) and not torch.equal(dm.test_set.x, dm.train_set.x[:8])
    again = CDRLDataModule(name, n_train=16, n_val=8)
    again.setup("test")
    assert torch.equal(again.test_set.x, dm.test_set.x)


def test_synthetic_rgb_images_are_coloured_shapes():
    x, y = synthetic_rgb_images(32, seed=3)
    grey, y_grey = synthetic_images(32, seed=3)
    assert x.shape == (32, 3, 32, 32) and x.min() >= -1 and x.max() <= 1 and torch.equal(y, y_grey)
    assert torch.equal((x > -1).any(1), grey[:, 0] > 0)  # the same shapes, on black
    assert x.std(dim=1).mean() > 0  # colours differ between channels


def test_predict_n_placeholders():
    dm = CDRLDataModule("synthetic", batch_size=4, predict_n=300)
    dm.predict_n = 5  # as predict --n 5 sets it
    batches = list(dm.predict_dataloader())
    assert [b["x"].shape for b in batches] == [(5, 1, 32, 32)] and batches[0]["index"].tolist() == list(range(5))
