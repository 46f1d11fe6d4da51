"""The amortised latent ODE baseline: its encoder reads only observed points, its KL is exact."""

import torch
from torch.distributions import Normal, kl_divergence

from latent_ebm.ode_lebm import LatentODEVAE


def test_encoder_ignores_unobserved_points_and_kl_is_exact():
    torch.manual_seed(0)
    model = LatentODEVAE(latent_dim=3, obs_dim=2, encoder_hidden=8, ode_hidden=8, emission_hidden=8)
    x, t = torch.randn(4, 7, 2), torch.tensor([0.0, 0.1, 0.3, 0.35, 0.8, 1.0, 1.6])
    mask = torch.tensor([[1.0, 0, 1, 0, 1, 1, 0]]).expand(4, -1)
    mu, logvar = model.encoder(x, t, mask)
    x2 = x.clone()
    x2[:, [1, 3, 6]] = 100.0  # change only unobserved entries
    mu2, logvar2 = model.encoder(x2, t, mask)
    assert torch.allclose(mu, mu2) and torch.allclose(logvar, logvar2)
    x3 = x.clone()
    x3[:, 2] += 1.0  # an observed entry matters
    assert not torch.allclose(model.encoder(x3, t, mask)[0], mu)

    ll, kl = model.elbo(x, t, mask)
    q = Normal(mu, (0.5 * logvar).exp())
    want = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(-1)
    assert torch.allclose(kl, want, atol=1e-5)
    assert ll.shape == (4,) and torch.isfinite(ll).all()


def test_auroc_matches_pairwise_definition_at_any_scale():
    from latent_ebm.ode_lebm.sequence import auroc

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(30, generator=g).round(), (torch.randn(20, generator=g) + 1).round()
    want = ((b[None] > a[:, None]).double() + 0.5 * (b[None] == a[:, None]).double()).mean()
    assert abs(auroc(a, b) - float(want)) < 1e-9
    assert abs(auroc(1000 * a + 5000, 1000 * b + 5000) - float(want)) < 1e-9  # no saturation


def test_prediction_does_not_depend_on_the_unobserved_query_tail():
    """At test time the batch also holds the times to extrapolate (mask 0 there). Inference must
    read the observed window exactly as in training: appending a longer unobserved tail to t
    changes nothing at the shared times (it once drove the ODE-RNN encoder through the tail)."""
    from latent_ebm.core.samplers import LangevinSchedule
    from latent_ebm.ode_lebm import ODELEBMModule

    torch.manual_seed(0)
    t = torch.linspace(0, 2, 11)
    x, mask = torch.randn(3, 11, 2), (torch.rand(3, 11) < 0.6).float()
    mask[:, 0] = 1
    long_t = torch.linspace(0, 6, 31)  # same first 11 points, then 20 unobserved ones
    long = {"x": torch.cat([x, torch.zeros(3, 20, 2)], 1), "t": long_t,
            "mask": torch.cat([mask, torch.zeros(3, 20)], 1)}
    lode = LatentODEVAE(latent_dim=3, obs_dim=2, encoder_hidden=8, ode_hidden=8, emission_hidden=8)
    short = lode.predict_trajectory({"x": x, "t": t, "mask": mask}, t_query=long_t)
    assert torch.allclose(lode.predict_trajectory(long), short, atol=1e-6)
    lebm = ODELEBMModule(latent_dim=3, obs_dim=2, ode_hidden=8, emission_hidden=8, prior_hidden=8,
                         eval_posterior=LangevinSchedule(5, 0.1), eval_chains=2)
    lebm.rng.manual_seed(1)
    short = lebm.predict_trajectory({"x": x, "t": t, "mask": mask}, t_query=long_t)
    lebm.rng.manual_seed(1)
    assert torch.allclose(lebm.predict_trajectory(long), short, atol=1e-5)
