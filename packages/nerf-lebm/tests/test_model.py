"""Known answers for the model: posterior Langevin on the analytic linear-Gaussian posterior, the
uniform pose prior, the factorised EBM prior, masked pixels leaving the likelihood; a tiny fit
lowers the reconstruction error; bad inputs are one-line errors."""

import math

import pytest
import torch

from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.core.testing import LinearGaussian
from latent_ebm.core.testing.contract import tiny_trainer
from latent_ebm.nerf_lebm import NeRFLEBMDataModule, NeRFLEBMModule, NeRFVAEModule
from latent_ebm.nerf_lebm.priors import SceneEnergyPrior, SceneGaussianPrior
from latent_ebm.nerf_lebm.scene import aligned_pose_errors_deg

TINY = dict(image_size=16, shape_dim=4, app_dim=4, width=16, depth=2, pe_x=2, pe_d=1, map_hidden=8, n_samples=6,
            prior_hidden_shape=8, prior_hidden_app=8)


class LinearScene(NeRFLEBMModule):
    """The NeRF replaced by a linear decoder: rgb of the R rays = W z (R * 3 values)."""

    def __init__(self, w: torch.Tensor, **kw) -> None:
        super().__init__(**kw)
        self.register_buffer("w", w)

    def log_likelihood(self, x, z):
        pred = (z @ self.w.T).reshape(z.shape[0], -1, 3)
        return self.gaussian_loglik(x, pred)


def test_posterior_langevin_lands_on_the_linear_gaussian_posterior():
    size, sigma = 4, 2.0
    lg = LinearGaussian.random(3 * size * size, 4, sigma, seed=0, dtype=torch.float32)
    x_flat, _ = lg.sample(1, seed=1)
    mean, cov = lg.posterior(x_flat)
    m = LinearScene(lg.W, image_size=size, shape_dim=2, app_dim=2, prior="gaussian", obs_sigma=sigma,
                    rays_per_image=None, posterior=LangevinSchedule(400, 0.1), seed=0)
    n = 4000
    img = x_flat.reshape(1, size, size, 3).permute(0, 3, 1, 2).expand(n, -1, -1, -1)
    x = m.scene_batch({"x": img, "pose": torch.eye(4).expand(n, 4, 4)}, need_pose=True, subsample=False)
    u = m.infer(x, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(u.mean(0), mean[0], atol=0.06, rtol=0)
    torch.testing.assert_close(torch.cov(u.T), cov, atol=0.06, rtol=0)


def test_pose_latent_prior_is_uniform_on_both_angles():
    prior = SceneGaussianPrior(2, 2, pose=True, elevation_deg=(10.0, 60.0))
    z = prior.transform(prior.sample(20000, generator=torch.Generator().manual_seed(0)))
    az, el = z[:, 4], torch.rad2deg(z[:, 5])
    hist_az = torch.histc(az, 8, -math.pi, math.pi) / len(az)
    hist_el = torch.histc(el, 5, 10.0, 60.0) / len(el)
    assert (hist_az - 1 / 8).abs().max() < 0.01 and (hist_el - 1 / 5).abs().max() < 0.01


def test_energy_prior_factorises_over_shape_and_appearance():
    prior = SceneEnergyPrior(3, 2, hidden_shape=8, hidden_app=8)
    u, v = torch.randn(5, 5), torch.randn(5, 5)
    expected = prior.shape_prior.energy(u[:, :3]) + prior.app_prior.energy(u[:, 3:])
    torch.testing.assert_close(prior.energy(u), expected)
    loss = prior.contrastive_loss(u, v)
    parts = prior.shape_prior.contrastive_loss(u[:, :3], v[:, :3]) + prior.app_prior.contrastive_loss(u[:, 3:], v[:, 3:])
    torch.testing.assert_close(loss, parts)
    no_ref = SceneEnergyPrior(3, 2, hidden_shape=8, hidden_app=8, reference=False)
    no_ref.load_state_dict(prior.state_dict())
    torch.testing.assert_close(prior.energy(u) - no_ref.energy(u), 0.5 * u.square().sum(1))


def _batch(n=4, size=16):
    dm = NeRFLEBMDataModule(image_size=size, n_train=n, n_val=n, held_out_views=2)
    dm.setup("fit")
    return next(iter(torch.utils.data.DataLoader(dm.val_set, batch_size=n)))


def test_masked_pixels_leave_the_likelihood():
    m = NeRFLEBMModule(**TINY, rays_per_image=None, seed=0).eval()
    batch = _batch()
    mask = torch.ones(4, 1, 16, 16)
    mask[:, :, :8] = 0
    z = torch.randn(4, 8)
    other = batch["x"].clone()
    other[:, :, :8] = torch.rand_like(other[:, :, :8])
    ll = [m.log_likelihood(m.split_batch({**batch, "x": img, "mask": mask})[0], z) for img in (batch["x"], other)]
    torch.testing.assert_close(ll[0], ll[1])
    full = m.log_likelihood(m.split_batch({**batch, "x": other})[0], z)
    assert not torch.allclose(full, ll[1])


def test_unknown_pose_renders_from_the_pose_latent():
    m = NeRFLEBMModule(**TINY, pose="unknown", rays_per_image=None, seed=0).eval()
    batch = _batch()
    batch.pop("pose")
    x, _ = m.split_batch(batch)
    u = m.infer(x, schedule=LangevinSchedule(2, 0.05))
    assert u.shape == (4, 11) and m.prior.transform(u).shape == (4, 10)
    logs = m.view_metrics(m.prior.transform(u), x, "val")
    assert 0 <= float(logs["val/azimuth_error_deg"]) <= 180


def test_pose_errors_remove_a_global_azimuth_offset_and_fold_symmetric_objects():
    g = torch.Generator().manual_seed(0)
    true = torch.stack([(torch.rand(200, generator=g) * 2 - 1) * math.pi, torch.rand(200, generator=g)], -1)
    off = torch.tensor([2.5, 0.0])  # the model's frame turned by 143 degrees, elevations exact
    err = aligned_pose_errors_deg(true + off, true, true[:50] + off, true[:50])
    assert float(err["offset_deg"]) == pytest.approx(math.degrees(2.5), abs=1e-3)
    assert torch.allclose(err["azimuth_raw"], torch.full((200,), math.degrees(2.5)), atol=1e-3)
    assert float(err["azimuth_aligned"].max()) < 1e-3 and float(err["elevation"].max()) < 1e-4
    flipped = true + off + torch.tensor([math.pi - 0.1, 0.0])  # a box seen from the other side (+ 174 deg)
    err = aligned_pose_errors_deg(flipped, true, true[:50] + off, true[:50])
    assert torch.allclose(err["azimuth_aligned"], torch.full((200,), 180 - math.degrees(0.1)), atol=1e-3)
    assert torch.allclose(err["azimuth_aligned_mod180"], torch.full((200,), math.degrees(0.1)), atol=1e-3)


def test_tiny_fit_lowers_reconstruction_error(tmp_path):
    dm = NeRFLEBMDataModule(image_size=16, n_train=32, n_val=8, held_out_views=2, batch_size=8)
    model = NeRFLEBMModule(**{**TINY, "width": 32, "n_samples": 8}, rays_per_image=64, obs_sigma=0.1,
                           posterior=LangevinSchedule(5, 0.05), prior_langevin=LangevinSchedule(5, 0.5),
                           optim={"lr": 3e-3}, seed=0)

    def val_nll():
        return tiny_trainer(tmp_path).validate(model, dm, verbose=False)[0]["val/nll"]

    before = val_nll()
    tiny_trainer(tmp_path, max_epochs=8, limit_val_batches=0).fit(model, dm)
    after = val_nll()
    assert after < 0.7 * before, (before, after)


def test_vi_module_step_and_eval(tmp_path):
    dm = NeRFLEBMDataModule(image_size=16, n_train=16, n_val=4, held_out_views=2, batch_size=8)
    model = NeRFVAEModule(**TINY, rays_per_image=32, prior_langevin=LangevinSchedule(3, 0.5), seed=0)
    trainer = tiny_trainer(tmp_path, max_epochs=2, limit_val_batches=1)
    trainer.fit(model, dm)
    metrics = trainer.callback_metrics
    assert math.isfinite(float(metrics["val/novel_psnr"])) and "train/f_q" in metrics


def test_bad_inputs_are_one_line_errors():
    m = NeRFLEBMModule(**TINY)
    with pytest.raises(ValueError, match=r"x=\(2, 3, 8, 8\) is not allowed; images must be \(B, 3, 16, 16\)"):
        m.split_batch({"x": torch.zeros(2, 3, 8, 8), "pose": torch.eye(4).expand(2, 4, 4)})
    with pytest.raises(ValueError, match="pose='known' needs camera poses"):
        m.split_batch({"x": torch.zeros(2, 3, 16, 16)})
    with pytest.raises(ValueError, match="near=13.0 is not allowed; it must be below far=12.5"):
        NeRFLEBMModule(**TINY, near=13.0)
