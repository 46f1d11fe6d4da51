"""Package fixtures. The core's pytest plugin sets the data directory, one thread and the seed."""
import pytest

from latent_ebm.core.testing.plugin import requires_dataset


def pytest_collection_modifyitems(config, items):
    # Built here, after the core plugin has set the data directory (conftest import comes first).
    zinc = requires_dataset("zinc250k", "250k_rndm_zinc_drugs_clean.smi.gz")
    for item in items:
        if "zinc_dm" in getattr(item, "fixturenames", ()):
            item.add_marker(zinc)


@pytest.fixture(scope="session")
def zinc_dm():
    """600 ZINC250k molecules with QED (tests using it skip where ZINC250k is not in the cache)."""
    from latent_ebm.lpt_mol import LPTMolDataModule

    dm = LPTMolDataModule(limit=600, properties=("qed",), batch_size=64)
    dm.setup("fit")
    return dm
