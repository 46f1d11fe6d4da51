import os

import pytest

os.environ.setdefault("LATENT_EBM_DATA_DIR", "/work/shared/data")


@pytest.fixture(scope="session")
def zinc_dm():
    from latent_ebm.core.data import is_available

    if not is_available("zinc250k", "250k_rndm_zinc_drugs_clean.smi.gz"):
        pytest.skip("zinc250k is not available (set LATENT_EBM_DATA_DIR)")
    from latent_ebm.lpt_mol import MolDataModule

    dm = MolDataModule(limit=600, properties=("qed",), batch_size=64)
    dm.setup("fit")
    return dm
