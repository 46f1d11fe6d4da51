"""Resuming from a checkpoint restores the persistent chains, the sampler RNG and the
optimisers: 2 + 2 resumed steps equal 4 uninterrupted ones."""

import torch
from conftest import trainer

from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.ode_lebm import ODELEBM, LatentODEVAE, SequenceDataModule


def _parts():
    torch.manual_seed(0)
    dm = SequenceDataModule(dataset="sinusoids", n_train=32, n_val=4, n_test=4, train_steps=8,
                            test_steps=10, batch_size=16)
    model = ODELEBM(latent_dim=3, ode_hidden=8, emission_hidden=8, prior_hidden=8, persistent_posterior=True,
                    n_examples=32, posterior=LangevinSchedule(3, 0.1),
                    prior_langevin=LangevinSchedule(5, 0.4), seed=7)
    return dm, model


def _straight_first_resumed(parts, tmp_path):
    """Models after 2 uninterrupted epochs, after 1 epoch (checkpointed), and after 1 + 1 resumed
    epochs, each built by ``parts()``; and the checkpoint's path."""
    dm, straight = parts()
    trainer(max_epochs=2, limit_val_batches=0).fit(straight, dm)
    dm, first = parts()
    tr = trainer(max_epochs=1, limit_val_batches=0)
    tr.fit(first, dm)
    ckpt = tmp_path / "half.ckpt"
    tr.save_checkpoint(ckpt)
    dm, resumed = parts()
    trainer(max_epochs=2, limit_val_batches=0).fit(resumed, dm, ckpt_path=ckpt)
    return straight, first, resumed, ckpt


def _assert_same_training(straight, resumed):
    assert torch.equal(resumed.rng.get_state(), straight.rng.get_state())
    for (name, p), q in zip(straight.named_parameters(), resumed.parameters()):
        assert torch.allclose(p, q, atol=1e-6), name


def test_resume_restores_chains_rng_and_training(tmp_path):
    straight, first, resumed, ckpt = _straight_first_resumed(_parts, tmp_path)
    assert first.chains.seen.all() and not torch.equal(first.chains.chains, torch.zeros_like(first.chains.chains))
    loaded = ODELEBM.load_from_checkpoint(ckpt)
    assert torch.equal(loaded.chains.chains, first.chains.chains) and torch.equal(loaded.chains.seen, first.chains.seen)
    assert torch.equal(loaded.rng.get_state(), first.rng.get_state())
    assert torch.allclose(resumed.chains.chains, straight.chains.chains, atol=1e-6)
    _assert_same_training(straight, resumed)


def test_latent_ode_resume_restores_its_noise_generator(tmp_path):
    """The amortised baseline draws its reparameterisation noise from the core's per-rank
    generator: 1 + 1 resumed epochs give the same weights as 2 uninterrupted ones."""
    def parts():
        torch.manual_seed(0)
        dm = SequenceDataModule(dataset="sinusoids", n_train=32, n_val=4, n_test=4, train_steps=8,
                                test_steps=10, batch_size=16)
        return dm, LatentODEVAE(latent_dim=3, ode_hidden=8, encoder_hidden=8, emission_hidden=8, seed=7)

    straight, first, resumed, ckpt = _straight_first_resumed(parts, tmp_path)
    assert torch.equal(LatentODEVAE.load_from_checkpoint(ckpt).rng.get_state(), first.rng.get_state())
    _assert_same_training(straight, resumed)
