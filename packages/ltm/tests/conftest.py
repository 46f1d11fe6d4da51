import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("LATENT_EBM_DATA_DIR", str((__import__("pathlib").Path(__file__).parents[3] / ".." / "shared" / "data").resolve()))


@pytest.fixture(autouse=True)
def _token_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LATENT_EBM_TOKEN_CACHE", str(tmp_path_factory.getbasetemp() / "tokens"))
