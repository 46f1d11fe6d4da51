"""The procedural data: deterministic under a seed, and its views agree with their poses."""

import math

import torch

from latent_ebm.nerf_lebm.render import focal_from_fov, look_at_pose
from latent_ebm.nerf_lebm.scenes import RADIUS, make_scenes, raytrace


def test_generator_is_deterministic_under_a_seed():
    a, b, c = make_scenes(6, 3, 16, seed=4), make_scenes(6, 3, 16, seed=4), make_scenes(6, 3, 16, seed=5)
    assert torch.equal(a.images, b.images) and torch.equal(a.poses, b.poses)
    assert not torch.equal(a.images, c.images)
    assert a.images.shape == (6, 3, 3, 16, 16) and a.images.min() >= 0 and a.images.max() <= 1


def test_sphere_silhouette_area_matches_the_pinhole_model():
    size, r = 64, 1.5
    pose = look_at_pose(torch.tensor([0.4]), torch.tensor([0.3]), RADIUS)
    img = raytrace(0, torch.tensor([r, 0, 0]), torch.ones(3), pose, size)
    area = (img.sum(1) > 0).sum().item()
    f = focal_from_fov(size, 30.0)
    expected = math.pi * (f * r / math.sqrt(RADIUS**2 - r**2)) ** 2  # the image of a sphere's tangent cone
    assert abs(area - expected) / expected < 0.05, (area, expected)


def test_mirrored_cameras_see_mirrored_boxes():
    # the box is symmetric under x -> -x, so azimuth -a sees the mirror image of azimuth a
    size = 32
    box = torch.tensor([1.2, 0.8, 0.6])
    poses = look_at_pose(torch.tensor([0.6, -0.6]), torch.tensor([0.5, 0.5]), RADIUS)
    sil = raytrace(1, box, torch.ones(3), poses, size).sum(1) > 0
    mismatch = (sil[0, :, 1:] != sil[1, :, 1:].flip(-1)).sum().item()  # pixel i <-> W - i (corner rays)
    assert mismatch <= 2 and sil[0].sum() > 50
    # and a quarter turn of a non-square box changes what the camera sees
    other = raytrace(1, box, torch.ones(3), look_at_pose(torch.tensor([0.6 + math.pi / 2]), torch.tensor([0.5]), RADIUS),
                     size).sum(1) > 0
    assert (other[0] != sil[0]).sum() > 10
