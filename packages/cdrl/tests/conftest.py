import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("LATENT_EBM_DATA_DIR", str(Path(__file__).resolve().parents[4] / "shared" / "data"))
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def trainer(**kw):
    import lightning as L

    defaults = dict(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, inference_mode=False,
                    num_sanity_val_steps=0)
    defaults.update(kw)
    return L.Trainer(**defaults)
