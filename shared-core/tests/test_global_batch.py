"""The global batch setting: accumulation derived from the world size at setup."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from latent_ebm.core.lightning import accumulation_steps, apply_global_batch


def test_accumulation_divides_by_world_size():
    assert accumulation_steps(512, 64, 1) == 8
    assert accumulation_steps(512, 64, 8) == 1
    assert accumulation_steps(512, 16, 4) == 8
    with pytest.raises(ValueError, match=r"global_batch_size=500 is not allowed; .* 64 x 2 = 128"):
        accumulation_steps(500, 64, 2)


class _Linear(L.LightningModule):
    def __init__(self, global_batch):
        super().__init__()
        self.net = torch.nn.Linear(2, 1)
        self.global_batch = global_batch

    def setup(self, stage):
        apply_global_batch(self.trainer, self.global_batch, per_device=2)

    def training_step(self, batch, _):
        return self.net(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.parametrize(("global_batch", "optimizer_steps"), [(None, 8), (2, 8), (8, 2)])
def test_the_trainer_accumulates_to_the_global_batch(tiny_trainer, tmp_path, global_batch, optimizer_steps):
    data = DataLoader(TensorDataset(torch.randn(16, 2)), batch_size=2)
    trainer = tiny_trainer(max_epochs=1)
    trainer.fit(_Linear(global_batch), data)
    assert trainer.global_step == optimizer_steps


def test_a_clashing_trainer_setting_is_refused(tiny_trainer, tmp_path):
    trainer = tiny_trainer(max_epochs=1, accumulate_grad_batches=3)
    with pytest.raises(ValueError, match="trainer.accumulate_grad_batches=3 is not allowed; global_batch_size=8"):
        trainer.fit(_Linear(8), DataLoader(TensorDataset(torch.randn(16, 2)), batch_size=2))
