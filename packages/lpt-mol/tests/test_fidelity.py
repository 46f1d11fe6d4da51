"""The LPT code's choices (issue 18): precision 2, sigmoid heads, decoder-only decay, the schedule,
and the two penalised-logP ring penalties."""

from importlib.resources import files

import pytest
import torch
import yaml

from latent_ebm.lpt_mol import LPTMolModule
from latent_ebm.lpt_mol.oracles import ORACLES, penalized_logp

SMALL = {"vocab_size": 12, "max_len": 8, "n_latent": 2, "latent_dim": 8, "unet_base": 8,
         "unet_multipliers": (1, 2), "d_model": 8, "n_layers": 1, "n_heads": 2}


def test_the_paper_config_follows_the_lpt_code():
    cfg = yaml.safe_load(files("latent_ebm.lpt_mol.configs").joinpath("paper.yaml").read_text())["model"]
    assert cfg["prop_precision"] == 2.0 and cfg["bounded_heads"] is True and cfg["decay_scope"] == "decoder"
    o = cfg["optim"]
    assert (o["warmup_steps"], o["hold_steps"], o["max_steps"], o["schedule"]) == (600, 1400, 9000, "cosine")
    assert o["lr"] * o["min_lr_ratio"] == pytest.approx(7.5e-5)


def test_bounded_heads_stay_in_the_unit_interval_and_unbounded_ones_do_not():
    torch.manual_seed(0)
    module = LPTMolModule(**SMALL, properties=("qed", "plogp"), phase="finetune")
    with torch.no_grad():
        for head in module.prop.heads:
            head[-1].bias.fill_(5.0)  # push every head far above 1
    pred = module.prop(torch.randn(16, 2, 8))
    assert (pred[:, 0] < 1).all() and (pred[:, 0] > 0).all() and (pred[:, 1] > 1).all()
    plain = LPTMolModule(**SMALL, properties=("qed",), bounded_heads=False)
    assert plain.prop.bounded == [False]


def test_precision_two_doubles_the_property_energy():
    z, y = torch.randn(4, 2, 8), torch.rand(4, 1)
    one = LPTMolModule(**SMALL, phase="finetune", prop_precision=1.0).eval()
    two = LPTMolModule(**SMALL, phase="finetune", prop_precision=2.0).eval()
    two.load_state_dict(one.state_dict())
    assert torch.allclose(two.property_energy(z, y), 2 * one.property_energy(z, y))
    # the LPT code's energy: a plain sum of squares (no 1/2)
    t = y  # QED's target is its raw value
    assert torch.allclose(two.property_energy(z, y), ((t - two.prop(z)) ** 2).sum(1))


def test_decoder_only_decay():
    module = LPTMolModule(**SMALL, decay_scope="decoder", optim={"weight_decay": 0.1})
    opt = module.configure_optimizers()  # one AdamW: the UNet prior learns with the generator
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    decoder = {id(p) for p in module.decoder.parameters() if p.dim() >= 2}
    assert decayed == decoder
    everywhere = LPTMolModule(**SMALL, optim={"weight_decay": 0.1}).configure_optimizers()
    assert sum(len(g["params"]) for g in everywhere.param_groups if g["weight_decay"] > 0) > len(decoder)
    with pytest.raises(ValueError, match="decay_scope='encoder' is not allowed"):
        LPTMolModule(**SMALL, decay_scope="encoder")


@pytest.mark.parametrize(("smiles", "largest", "count"), [
    ("C1CCCCC1", 0, 0),  # cyclohexane: no ring > 6
    ("C1CCCCCCC1", 2, 1),  # cyclooctane: one 8-ring
    ("C1CCCCCCC1C1CCCCCCCCC1", 4, 2),  # an 8-ring and a 10-ring
])
def test_the_two_ring_penalties(smiles, largest, count):
    base = penalized_logp(smiles, ring_penalty="largest") + largest
    assert penalized_logp(smiles, ring_penalty="count") == pytest.approx(base - count)
    assert ORACLES["plogp"](smiles) == pytest.approx(base - largest)
    assert ORACLES["plogp_lpt"](smiles) == pytest.approx(base - count)
