"""Resuming from a checkpoint restores the persistent chains, the sampler RNG and the
optimisers: 2 + 2 resumed steps equal 4 uninterrupted ones."""

import torch
from conftest import trainer

from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.ode_lebm import ODELEBM, SequenceDataModule


def _parts():
    torch.manual_seed(0)
    dm = SequenceDataModule(dataset="sinusoids", n_train=32, n_val=4, n_test=4, train_steps=8,
                            test_steps=10, batch_size=16)
    model = ODELEBM(latent_dim=3, ode_hidden=8, emission_hidden=8, prior_hidden=8, persistent_posterior=True,
                    n_train=32, posterior_langevin=LangevinSchedule(3, 0.1),
                    prior_langevin=LangevinSchedule(5, 0.4), seed=7)
    return dm, model


def test_resume_restores_chains_rng_and_training(tmp_path):
    dm, straight = _parts()
    trainer(max_epochs=2, limit_val_batches=0).fit(straight, dm)

    dm, first = _parts()
    tr = trainer(max_epochs=1, limit_val_batches=0)
    tr.fit(first, dm)
    ckpt = tmp_path / "half.ckpt"
    tr.save_checkpoint(ckpt)
    assert first.chains_seen.all() and not torch.equal(first.chains, torch.zeros_like(first.chains))

    dm, resumed = _parts()
    loaded = ODELEBM.load_from_checkpoint(ckpt)
    assert torch.equal(loaded.chains, first.chains) and torch.equal(loaded.chains_seen, first.chains_seen)
    assert torch.equal(loaded.rng.get_state(), first.rng.get_state())
    trainer(max_epochs=2, limit_val_batches=0).fit(resumed, dm, ckpt_path=ckpt)

    assert torch.equal(resumed.rng.get_state(), straight.rng.get_state())
    assert torch.allclose(resumed.chains, straight.chains, atol=1e-6)
    for (name, p), q in zip(straight.named_parameters(), resumed.parameters()):
        assert torch.allclose(p, q, atol=1e-6), name
