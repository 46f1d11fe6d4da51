import selfies as sf
from rdkit import Chem

from latent_ebm.lpt_mol.data import SelfiesVocab, to_selfies


def test_selfies_round_trip():
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "C[NH+](C)CC[O-]"]
    kept, selfies, skipped = to_selfies(smiles)
    assert skipped == 0
    vocab = SelfiesVocab.from_selfies(selfies)
    for s, f in zip(kept, selfies):
        ids = vocab.encode(f, max_len=72)
        assert len(ids) == 73 and ids[0] == vocab.bos
        back = vocab.decode(ids)
        assert Chem.MolToSmiles(Chem.MolFromSmiles(back)) == s


def test_unparseable_skipped_with_count():
    kept, selfies, skipped = to_selfies(["CCO", "C1CC(", "not a smiles", "c1ccccc1"])
    assert skipped == 2 and len(kept) == 2 == len(selfies)
    assert all(sf.decoder(f) for f in selfies)


def test_zinc_module(zinc_dm):
    held = len(zinc_dm.test_set) if zinc_dm.test_set is not None else 0  # ZINC250k's own test rows
    assert held > 0 and len(zinc_dm.train_set) + len(zinc_dm.val_set) + held + zinc_dm.skipped == 600
    seen = set(zinc_dm.train_idx.tolist()) | set(zinc_dm.val_idx.tolist())
    assert seen.isdisjoint(zinc_dm.test_idx.tolist())
    b = zinc_dm.train_set[0]
    assert b["x"].shape == (73,) and 0.0 < float(b["y"][0]) < 1.0


def test_offline_nci_default_and_bad_dataset():
    import pytest

    from latent_ebm.lpt_mol import LPTMolDataModule

    dm = LPTMolDataModule(dataset="nci5k", limit=200, batch_size=16)
    dm.setup("fit")
    assert len(dm.train_set) + len(dm.val_set) + dm.skipped == 200
    assert all(Chem.MolFromSmiles(dm.vocab.decode(dm.train_set[i]["x"])) is not None for i in range(10))
    with pytest.raises(ValueError, match="dataset="):
        LPTMolDataModule(dataset="zinc")
