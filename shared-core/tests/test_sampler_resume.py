"""Mid-epoch resume: a fit restored from a checkpoint saved inside an epoch trains on exactly the
batches the uninterrupted fit trains on after that point and ends with the same weights (the core's
``epoch_loader``; that it also leaves the global RNG alone is checked on a module that saves it,
in ltm's ``test_contract.py``)."""

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from latent_ebm.core.data import EpochShuffle, epoch_loader
from latent_ebm.core.testing.contract import tiny_trainer

N, BATCH = 20, 4  # 5 batches an epoch; checkpoints at step 7 sit 2 batches into epoch 1


class _Regression(L.LightningModule):
    """Least squares by SGD; records the example indices of every batch it trains on."""

    def __init__(self, resumable: bool = True) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(3, 1)
        self.resumable = resumable
        self.seen: list[list[int]] = []
        g = torch.Generator().manual_seed(0)
        self.data = TensorDataset(torch.randn(N, 3, generator=g), torch.randn(N, 1, generator=g), torch.arange(N))

    def train_dataloader(self):
        if self.resumable:
            return epoch_loader(self.data, BATCH, seed=5, trainer=self.trainer, drop_last=True)
        return DataLoader(self.data, batch_size=BATCH, sampler=EpochShuffle(N, seed=5), drop_last=True)

    def training_step(self, batch, batch_idx):
        x, y, idx = batch
        self.seen.append(idx.tolist())
        return torch.nn.functional.mse_loss(self.lin(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _full_and_resumed(tmp_path, resumable: bool, at: int, steps: int = 13):
    """The uninterrupted fit to ``steps`` (checkpointing at ``at``) and a fresh fit resumed from
    that checkpoint to ``steps``: the batches each trained on after ``at``, and both weights."""
    L.seed_everything(0, verbose=False)
    full = _Regression(resumable)
    ckpt = ModelCheckpoint(dirpath=tmp_path, filename="at", every_n_train_steps=at, save_top_k=1, monitor=None,
                           save_on_train_epoch_end=False)
    tiny_trainer(tmp_path / "full", max_steps=steps, enable_checkpointing=True, callbacks=[ckpt]).fit(full)
    ckpt_path = tmp_path / "at.ckpt"
    assert torch.load(ckpt_path, weights_only=False)["global_step"] == at
    resumed = _Regression(resumable)
    tiny_trainer(tmp_path / "resumed", max_steps=steps).fit(resumed, ckpt_path=str(ckpt_path))
    return full.seen[at:], resumed.seen, full.lin.weight, resumed.lin.weight


@pytest.mark.parametrize("at", [7, 10], ids=["mid-epoch", "epoch-boundary"])
def test_resume_trains_on_the_same_batches_as_the_uninterrupted_fit(tmp_path, at):
    after_full, after_resumed, w_full, w_resumed = _full_and_resumed(tmp_path, True, at)
    assert after_resumed == after_full
    torch.testing.assert_close(w_resumed, w_full, rtol=0, atol=0)


def test_without_resume_from_a_mid_epoch_resume_replays_the_epoch(tmp_path):
    """The check can fail: a plain EpochShuffle restarts the interrupted epoch from its start."""
    after_full, after_resumed, _, _ = _full_and_resumed(tmp_path, False, 7)
    assert after_resumed != after_full


def test_a_checkpoint_saved_after_the_fit_resumes_in_the_next_epoch_whole(tmp_path):
    """``trainer.save_checkpoint`` after a fit stopped at max_steps: Lightning has closed the epoch,
    so nothing is skipped and the resumed fit starts epoch 2's permutation from its start."""
    first = _Regression()
    trainer = tiny_trainer(tmp_path / "first", max_steps=7)
    trainer.fit(first)
    trainer.save_checkpoint(tmp_path / "end.ckpt")
    resumed = _Regression()
    tiny_trainer(tmp_path / "resumed", max_steps=9).fit(resumed, ckpt_path=str(tmp_path / "end.ckpt"))
    epoch2 = EpochShuffle(N, seed=5)
    epoch2.set_epoch(2)
    order = list(epoch2)
    assert resumed.seen == [order[:BATCH], order[BATCH : 2 * BATCH]]


def test_skip_seen_drops_a_prefix_of_one_epoch_only():
    s = EpochShuffle(10, seed=1)
    whole0 = list(s)
    s.skip_seen(0, 4)
    assert list(s) == whole0[4:] and len(s) == 10
    s.set_epoch(1)
    assert len(list(s)) == 10
    with pytest.raises(ValueError, match="n_seen=11"):
        s.skip_seen(0, 11)
