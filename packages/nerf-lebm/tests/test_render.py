"""The volume renderer against closed forms, the cameras against kornia's pinhole model."""

import math

import pytest
import torch
from kornia.geometry.camera import PinholeCamera

from latent_ebm.nerf_lebm.render import (
    composite,
    focal_from_fov,
    look_at_pose,
    opencv_to_opengl,
    opengl_to_opencv,
    pixel_grid,
    rays_from_pixels,
    sample_pdf,
    stratified_depths,
)


@pytest.mark.parametrize("dir_norm", [1.0, 2.5])
def test_constant_density_slab_transmits_exp_minus_sigma_d(dir_norm):
    # density sigma on t in [2, 3) (bins aligned with the slab), colour c, black background:
    # colour = c (1 - exp(-sigma * |d| * 1)), the rest of the ray empty
    sigma0, c = 0.7, torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    t = stratified_depths((1,), 500, 0.0, 5.0, perturb=False, dtype=torch.float64)
    sigma = torch.where((t >= 2.0 - 1e-9) & (t < 3.0 - 1e-9), sigma0, 0.0)
    d = torch.tensor([[0.0, 0.0, -dir_norm]], dtype=torch.float64)
    out = composite(sigma, c.expand(1, 500, 3), t, d, background=0.0)
    expected = 1 - math.exp(-sigma0 * dir_norm)
    torch.testing.assert_close(out["acc"], torch.tensor([expected], dtype=torch.float64), rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(out["rgb"][0], c * expected, rtol=1e-6, atol=1e-8)
    # expected depth of the hit, given a hit: 2 + 1/s - e^{-s}/(1 - e^{-s}), s = sigma |d| (to a bin width)
    s = sigma0 * dir_norm
    mean_t = 2 + (1 / s - math.exp(-s) / (1 - math.exp(-s)))
    assert abs(float(out["depth"][0]) / expected - mean_t) < 0.02


def test_empty_scene_renders_the_background():
    t = stratified_depths((3, 5), 16, 1.0, 4.0, generator=torch.Generator().manual_seed(0))
    out = composite(torch.zeros(3, 5, 16), torch.rand(3, 5, 16, 3), t, torch.randn(3, 5, 3), background=0.8)
    torch.testing.assert_close(out["rgb"], torch.full((3, 5, 3), 0.8))
    assert out["acc"].abs().max() < 1e-6


def test_an_opaque_wall_hides_what_is_behind():
    t = stratified_depths((1,), 10, 0.0, 10.0, perturb=False)
    sigma = torch.tensor([[0, 0, 1e4, 0, 1e4, 0, 0, 0, 0, 0.0]])
    rgb = torch.zeros(1, 10, 3)
    rgb[0, 2] = torch.tensor([1.0, 0, 0])
    rgb[0, 4] = torch.tensor([0, 1.0, 0])
    out = composite(sigma, rgb, t, torch.tensor([[0, 0, -1.0]]))
    torch.testing.assert_close(out["rgb"][0], torch.tensor([1.0, 0, 0]))


def test_stratified_samples_stay_in_their_bins():
    t = stratified_depths((200,), 8, 2.0, 6.0, generator=torch.Generator().manual_seed(1))
    lo = torch.linspace(2.0, 6.0, 9)[:-1]
    assert ((t >= lo) & (t < lo + 0.5)).all()
    assert t.std(0).min() > 0.1  # jittered within the bin


def test_rays_hit_the_pixels_kornia_projects():
    size, fov = 20, 30.0
    focal = focal_from_fov(size, fov)
    c2w = look_at_pose(torch.tensor([0.3, -2.0]), torch.tensor([0.5, 1.0]), 10.0)
    pix = pixel_grid(size, size)
    o, d = rays_from_pixels(c2w, pix, focal, size, size)
    pts = o + 4.0 * d  # (B, R, 3) world points along the rays
    k = torch.tensor([[focal, 0, size / 2, 0], [0, focal, size / 2, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    w2c = torch.linalg.inv(opengl_to_opencv(c2w))
    for b in range(2):
        cam = PinholeCamera(k[None], w2c[b:b + 1], torch.tensor([size]), torch.tensor([size]))
        uv = cam.project(pts[b:b + 1].reshape(1, -1, 3)).reshape(-1, 2)
        torch.testing.assert_close(uv, pix, atol=1e-3, rtol=0)


def test_the_principal_ray_passes_through_the_origin():
    c2w = look_at_pose(torch.tensor([1.0]), torch.tensor([0.7]), 10.0)
    o, d = rays_from_pixels(c2w, torch.tensor([[16.0, 16.0]]), 50.0, 32, 32)
    torch.testing.assert_close(o[0, 0] + 10.0 * d[0, 0], torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(c2w[0, :3, :3] @ c2w[0, :3, :3].T, torch.eye(3), atol=1e-6, rtol=0)


def test_opengl_opencv_round_trip():
    c2w = look_at_pose(torch.rand(5) * 6 - 3, torch.rand(5), 4.0)
    cv = opengl_to_opencv(c2w)
    torch.testing.assert_close(opencv_to_opengl(cv), c2w)
    # OpenCV's y and z axes are OpenGL's negated; the centre is the same
    torch.testing.assert_close(cv[:, :3, 1:3], -c2w[:, :3, 1:3])
    torch.testing.assert_close(cv[:, :3, 3], c2w[:, :3, 3])


def test_hierarchical_samples_follow_the_weights():
    bins = torch.linspace(0, 10, 11).expand(2, 11)
    w = torch.zeros(2, 10)
    w[:, 7] = 1.0
    t = sample_pdf(bins, w, 200, generator=torch.Generator().manual_seed(0))
    assert ((t >= 7) & (t <= 8)).float().mean() > 0.95


def test_bad_near_far_is_one_line():
    with pytest.raises(ValueError, match="far=1.0 is not allowed; it must exceed near=2.0"):
        stratified_depths((1,), 4, 2.0, 1.0)
