"""Package fixtures. The core's pytest plugin sets the data directory, one thread and the seed."""
import pytest
import torch

from latent_ebm.dso import DSODataModule, DSOModule
from latent_ebm.lpt_mol.data import SelfiesVocab

TINY = dict(max_len=40, n_latent=2, latent_dim=16, unet_base=8, unet_multipliers=(1, 2), d_model=32, n_layers=1, n_heads=2,
            dropout=0.0, phase="finetune", posterior={"n_steps": 2, "step_size": 0.3, "noise_scale": 0.5})


@pytest.fixture(scope="session")
def nci_dm():
    """200 of RDKit's NCI molecules with QED (offline)."""
    dm = DSODataModule(dataset="nci5k", limit=200, properties=("qed",))
    dm.setup("fit")
    return dm


@pytest.fixture
def tiny(nci_dm):
    """An untrained tiny DSOModule (QED head) and its vocabulary."""
    torch.manual_seed(0)
    model = DSOModule(vocab_size=len(nci_dm.vocab), **TINY)
    model.vocab_state = nci_dm.vocab.state_dict()
    return model, SelfiesVocab.from_state(model.vocab_state)
