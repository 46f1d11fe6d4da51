"""DSO's model: the weighted multi-objective design energy (known answer: the weighted sum of the
per-objective energies), its weights surviving a checkpoint, and the substructure prefix forced
on every design."""
import pytest
import torch
from rdkit import Chem

from latent_ebm.dso import DSOModule
from latent_ebm.dso.loop import DSO, substructure_prefix
from latent_ebm.lpt_mol.design import design
from latent_ebm.lpt_mol.model import to_target

TINY = dict(n_latent=2, latent_dim=16, unet_base=8, unet_multipliers=(1, 2), d_model=32, n_layers=1, n_heads=2,
            dropout=0.0, phase="finetune", posterior={"n_steps": 2, "step_size": 0.3, "noise_scale": 0.5})


def test_design_energy_is_the_weighted_sum_of_objectives():
    torch.manual_seed(0)
    props = ("qed", "sa", "plogp")
    model = DSOModule(vocab_size=20, properties=props, objective_weights=(1.0, 0.0, 2.5), prop_precision=2.0, **TINY)
    model.eval()
    z = torch.randn(5, 2, 16)
    y = torch.tensor([[0.9, 2.0, 3.0]]).expand(5, -1)
    per = (to_target(y, props) - model.prop(z)) ** 2  # (B, P)
    expected = 0.5 * 2.0 * (1.0 * per[:, 0] + 0.0 * per[:, 1] + 2.5 * per[:, 2])
    torch.testing.assert_close(model.property_energy(z, y), expected)
    # a weight of 0 makes the design energy blind to that objective's target
    y2 = y.clone()
    y2[:, 1] = 9.0
    torch.testing.assert_close(model.property_energy(z, y2), expected)
    # no weights: LPT's summed energy
    plain = DSOModule(vocab_size=20, properties=props, prop_precision=2.0, **TINY)
    plain.load_state_dict(model.state_dict())
    plain.eval()
    torch.testing.assert_close(plain.property_energy(z, y), 0.5 * 2.0 * per.sum(1))


@pytest.mark.parametrize("weights", [(1.0,), (1.0, -1.0), (0.0, 0.0), (1.0, float("nan")), "ab"])
def test_bad_weights_are_one_line_errors(weights):
    with pytest.raises(ValueError, match=r"^objective_weights=.* is not allowed; give one finite weight >= 0 per property"):
        DSOModule(vocab_size=20, properties=("qed", "sa"), objective_weights=weights, **TINY)


def test_weights_are_saved_hyperparameters():
    model = DSOModule(vocab_size=20, properties=("qed", "sa"), objective_weights=[1, 0.5], **TINY)
    assert model.hparams.objective_weights == (1.0, 0.5)
    again = DSOModule(**{k: v for k, v in model.hparams.items() if not k.startswith("_")})
    assert torch.equal(again.objective_weight, torch.tensor([1.0, 0.5]))


def test_substructure_prefix_starts_every_design(tiny):
    """The released option: a core forced as the SELFIES prefix; every design (from an untrained
    model, so nothing else keeps it) contains the substructure."""
    model, vocab = tiny
    prefix = substructure_prefix("c1ccccc1", vocab)
    smiles, _ = design(model, vocab, [0.9], 8, prefix=prefix, top_k=10, schedule=DSO.design_langevin,
                       generator=torch.Generator().manual_seed(0))
    core = Chem.MolFromSmiles("c1ccccc1")
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    assert all(m is not None and m.HasSubstructMatch(core) for m in mols), smiles
