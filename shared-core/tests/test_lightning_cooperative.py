"""CooperativeModule: on a 2-d Gaussian target the revised samples' moments move to the data's."""

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from latent_ebm.core.testing import GaussianCoop
from latent_ebm.core.testing.contract import tiny_trainer

MEAN = torch.tensor([2.0, -1.0])
STD = torch.tensor([0.5, 1.5])


def _moment_error(m: GaussianCoop) -> float:
    x = torch.zeros(4000, 2)
    s = m.sample(x, generator=torch.Generator().manual_seed(1))
    return ((s.mean(0) - MEAN).norm() + (s.std(0) - STD).norm()).item()


def test_samples_move_toward_data_moments(tmp_path):
    L.seed_everything(0, verbose=False)
    data = MEAN + STD * torch.randn(2048, 2, generator=torch.Generator().manual_seed(0))
    m = GaussianCoop(dim=2, seed=0)
    before = _moment_error(m)
    tiny_trainer(tmp_path, max_epochs=8).fit(m, DataLoader(TensorDataset(data), batch_size=64))
    after = _moment_error(m)
    assert before > 1.5 and after < 0.3 * before and after < 0.4, (before, after)
