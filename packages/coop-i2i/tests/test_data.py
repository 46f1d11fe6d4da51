"""AFHQ's sample images through the pipeline (loading, resizing, domain labels, references)."""

import torch

from latent_ebm.coop_i2i import CoopI2IDataModule
from latent_ebm.coop_i2i.data import AFHQ_DOMAINS
from latent_ebm.core.testing.plugin import requires_dataset


@requires_dataset("afhq-stargan-v2-samples")
def test_afhq_samples_load_with_domains():
    dm = CoopI2IDataModule("afhq", image_size=16, batch_size=4)
    dm.prepare_data()
    dm.setup("fit")
    assert AFHQ_DOMAINS == ("cat", "dog", "wild")
    assert dm.train_set.x.shape == (28, 3, 16, 16) and dm.val_set.x.shape == (15, 3, 16, 16)
    assert dm.train_set.y.bincount().tolist() == [10, 8, 10] and dm.val_set.y.bincount().tolist() == [5, 5, 5]
    assert dm.train_set.x.min() >= -1 and dm.train_set.x.max() <= 1 and dm.train_set.x.std() > 0.2
    batch = next(iter(dm.val_dataloader()))
    assert set(batch) == {"x", "y", "index", "content", "x_ref", "y_ref"}
    assert (batch["y_ref"] != batch["y"]).all()
    assert torch.equal(batch["y"], torch.tensor([0, 0, 0, 0]))  # sorted: cat first
