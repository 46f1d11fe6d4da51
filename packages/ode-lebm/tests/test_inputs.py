"""Bad input gets a ValueError naming the argument; irregular (masked) times are accepted."""

import pytest
import torch

from latent_ebm.ode_lebm import LatentODEVAE, ODELEBMDataModule, ODELEBMModule, make_sequences
from latent_ebm.ode_lebm.nets import LatentODE, ODEFunc


def _batch(b=3, n_t=6, d=1):
    return {"x": torch.randn(b, n_t, d), "t": torch.linspace(0, 1, n_t), "mask": torch.ones(b, n_t)}


@pytest.mark.parametrize("cls", [ODELEBMModule, LatentODEVAE])
def test_irregular_masked_times_are_accepted(cls):
    model = cls(latent_dim=2, ode_hidden=8, emission_hidden=8)
    batch = _batch()
    batch["t"] = torch.tensor([0.0, 0.1, 0.35, 0.4, 0.9, 1.7])
    batch["mask"] = torch.tensor([[1.0, 0, 1, 0, 0, 1]]).expand(3, -1)
    batch["x"][:, 1] = float("nan")  # missing values are allowed where mask == 0
    pred = model.predict_trajectory(batch, t_query=torch.linspace(0, 3, 7))
    assert pred.shape == (3, 7, 1) and torch.isfinite(pred).all()


@pytest.mark.parametrize("cls", [ODELEBMModule, LatentODEVAE])
def test_unsorted_times_raise(cls):
    model = cls(latent_dim=2, ode_hidden=8, emission_hidden=8)
    batch = _batch()
    batch["t"] = torch.tensor([0.0, 0.2, 0.1, 0.3, 0.4, 0.5])
    with pytest.raises(ValueError, match=r"t\[1:3\]=\[0\.2.*must be strictly increasing"):
        model.predict_trajectory(batch)
    batch["t"] = torch.tensor([0.0, 0.2, 0.2, 0.3, 0.4, 0.5])
    with pytest.raises(ValueError, match=r"t\[1:3\]=\[0\.2.*must be strictly increasing"):
        model.predict_trajectory(batch)


def test_mismatched_shapes_raise():
    model = ODELEBMModule(latent_dim=2, obs_dim=1, ode_hidden=8, emission_hidden=8)
    with pytest.raises(ValueError, match=r"x\.shape=\(3, 6, 2\) is not allowed"):
        model.predict_trajectory(_batch(d=2))
    bad = _batch()
    bad["t"] = torch.linspace(0, 1, 5)
    with pytest.raises(ValueError, match=r"t\.shape=\(5,\) is not allowed; it must be \(T,\) with T = x\.shape\[1\] = 6"):
        model.predict_trajectory(bad)
    bad = _batch()
    bad["mask"] = torch.ones(3, 5)
    with pytest.raises(ValueError, match=r"mask\.shape=\(3, 5\) is not allowed"):
        model.predict_trajectory(bad)
    bad = _batch()
    bad["t"] = torch.stack([torch.linspace(0, 1, 6), torch.linspace(0, 2, 6), torch.linspace(0, 1, 6)])
    with pytest.raises(ValueError, match=r"t\[1\]=.* must repeat one time grid"):
        model.predict_trajectory(bad)


def test_nan_observations_raise():
    model = ODELEBMModule(latent_dim=2, ode_hidden=8, emission_hidden=8)
    bad = _batch()
    bad["x"][1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match=r"x\[1, 2, 0\]=nan is not allowed; observed values"):
        model.predict_trajectory(bad)
    bad = _batch()
    bad["mask"][0] = 0
    with pytest.raises(ValueError, match=r"mask\[0\]=.* needs at least one observed time point"):
        model.predict_trajectory(bad)


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="method='rk5'"):
        LatentODE(ODEFunc(2), method="rk5")
    with pytest.raises(ValueError, match="dataset='mnist3d'"):
        ODELEBMDataModule(dataset="mnist3d")
    with pytest.raises(ValueError, match="test_steps=20 is not allowed"):
        ODELEBMDataModule(train_steps=50, test_steps=20)
    with pytest.raises(ValueError, match="eval_posterior"):
        ODELEBMModule(eval_posterior=3)
    with pytest.raises(ValueError, match="obs_fraction=0 is not allowed"):
        ODELEBMDataModule(obs_fraction=0)
    with pytest.raises(ValueError, match="obs='image' is not allowed"):
        ODELEBMModule(obs="image")
    with pytest.raises(ValueError, match="n=0 is not allowed"):
        make_sequences("sinusoids", 0, 10)
    with pytest.raises(ValueError, match=r"frequency=\(2\.0, 1\.0\) is not allowed"):
        make_sequences("sinusoids", 2, 10, ranges={"frequency": (2.0, 1.0)})
    with pytest.raises(ValueError, match=r"t\[1\]=nan is not allowed; time points must be finite"):
        LatentODE(ODEFunc(2))(torch.zeros(1, 2), torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="kind='energy' is not allowed"):
        ODELEBMModule().ood_score(_batch(), kind="energy")


def test_solver_options_agree():
    """rk4 (default), dopri5 and the adjoint give the same trajectory and gradient."""
    torch.manual_seed(0)
    func = ODEFunc(3, 16)
    z0 = torch.randn(4, 3, requires_grad=True)
    t = torch.tensor([0.0, 0.3, 0.5, 1.2])
    outs = []
    for kw in ({"method": "rk4", "step_size": 0.02}, {"method": "dopri5"}, {"method": "dopri5", "adjoint": True}):
        z = LatentODE(func, rtol=1e-7, atol=1e-8, **kw)(z0, t)
        (g,) = torch.autograd.grad(z.pow(2).sum(), z0)
        outs.append((z.detach(), g))
    for z, g in outs[1:]:
        assert torch.allclose(z, outs[0][0], atol=1e-5) and torch.allclose(g, outs[0][1], atol=1e-4)
