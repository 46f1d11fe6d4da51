"""Metrics against closed forms: Fréchet distance of Gaussians, MMD, FID of identical sets."""

import pytest
import torch

from latent_ebm.core.metrics import (
    FeatureClassifier,
    FeatureFID,
    frechet_distance,
    gaussian_mmd,
    train_feature_classifier,
)


def test_frechet_distance_closed_form_diagonal():
    # For diagonal covariances FD = |mu1-mu2|^2 + sum (s1 + s2 - 2 sqrt(s1 s2)).
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    s1, s2 = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 1.0])
    expected = (mu1 - mu2).square().sum() + (s1 + s2 - 2 * (s1 * s2).sqrt()).sum()
    got = frechet_distance(mu1, torch.diag(s1), mu2, torch.diag(s2))
    assert got.item() == pytest.approx(expected.item(), rel=1e-9)


def test_frechet_distance_is_zero_for_identical_and_rejects_shapes():
    a = torch.randn(5, 5, generator=torch.Generator().manual_seed(0))
    cov = a @ a.T + torch.eye(5)
    mu = torch.randn(5)
    assert frechet_distance(mu, cov, mu, cov).item() == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(mu, cov, mu[:3], cov)


def test_feature_fid_matches_closed_form_on_gaussian_features():
    gen = torch.Generator().manual_seed(1)
    extractor = torch.nn.Flatten()  # features = the "images" themselves, shape (N, 1*2*2)
    fid = FeatureFID(extractor, num_features=4, name="identity")
    real = torch.randn(4000, 1, 2, 2, generator=gen)
    fake = 1.5 * torch.randn(4000, 1, 2, 2, generator=gen) + 0.5
    fid.update(real, real=True)
    fid.update(fake, real=False)
    # Truth: N(0, I) vs N(0.5, 2.25 I) in 4-d: 4*0.25 + 4*(1 + 2.25 - 2*1.5) = 2.0
    assert fid.compute().item() == pytest.approx(2.0, abs=0.15)
    assert fid.feature_name == "identity"


def test_feature_fid_rejects_unknown_extractor():
    with pytest.raises(ValueError, match="extractor"):
        FeatureFID("vgg")


def test_gaussian_mmd_separates_distributions():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(300, 2, generator=gen)
    same = torch.randn(300, 2, generator=gen)
    shifted = torch.randn(300, 2, generator=gen) + 1.0
    assert abs(gaussian_mmd(x, same).item()) < 0.01
    assert gaussian_mmd(x, shifted).item() > 0.1
    with pytest.raises(ValueError, match="bandwidth"):
        gaussian_mmd(x, same, bandwidth=-1.0)


def test_feature_classifier_learns_separable_classes(tmp_path):
    gen = torch.Generator().manual_seed(3)
    n = 600
    labels = torch.randint(0, 2, (n,), generator=gen)
    images = 0.3 * torch.randn(n, 1, 8, 8, generator=gen)
    images[labels == 1, :, :4] += 1.0  # class 1: bright top half
    model, acc = train_feature_classifier(images, labels, epochs=3, cache_path=tmp_path / "clf.pt")
    assert acc > 0.9
    assert model(images[:5]).shape == (5, model.num_features)
    again, acc2 = train_feature_classifier(images, labels, cache_path=tmp_path / "clf.pt")
    assert acc2 == acc
    torch.testing.assert_close(again(images[:5]), model(images[:5]))
    with pytest.raises(ValueError, match="in_channels"):
        FeatureClassifier(in_channels=0)


def test_feature_classifier_trains_inside_inference_mode(capsys):
    """CDRL's validation builds it under the Trainer's inference mode; training must still work,
    and it says what it is doing."""
    x = torch.randn(256, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    with torch.inference_mode():
        model, acc = train_feature_classifier(x, y, epochs=1, batch_size=64)
    assert 0.0 <= acc <= 1.0 and not next(model.parameters()).is_inference()
    assert "training the FID feature classifier once" in capsys.readouterr().err


def test_image_grid_places_each_image_and_saves_a_png(tmp_path):
    from PIL import Image

    from latent_ebm.core.artifacts import image_grid, save_image_grid

    imgs = torch.stack([torch.full((1, 4, 4), v) for v in (-1.0, 0.0, 1.0)])  # black, grey, white
    grid = image_grid(imgs, nrow=2, pad=1)
    assert grid.shape == (1 + 2 * 5, 1 + 2 * 5, 1)
    assert grid[1, 1, 0] == 0 and grid[1, 6, 0] == 128 and grid[6, 1, 0] == 255
    path = save_image_grid(torch.rand(5, 3, 8, 8) * 2 - 1, tmp_path / "grid.png")
    assert Image.open(path).size == (2 + 3 * 10, 2 + 2 * 10)
    with pytest.raises(ValueError, match="images=.*is not allowed"):
        image_grid(torch.zeros(2, 2, 4, 4))


def test_scatter_puts_each_point_where_it_lies(tmp_path):
    from PIL import Image

    from latent_ebm.core.artifacts import save_scatter

    pts = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [float("nan"), 0.0]])  # the NaN row is left out
    path = save_scatter(pts, tmp_path / "s.png", size=101, box=2.0)
    img = Image.open(path).convert("RGB")
    assert img.size == (101, 101)
    # (1, 1) at column 75, row 25 (y up); (-1, -1) at column 25, row 75; the far corner stays white
    assert img.getpixel((75, 25)) == (31, 64, 160) and img.getpixel((25, 75)) == (31, 64, 160)
    assert img.getpixel((95, 95)) == (255, 255, 255)
    with pytest.raises(ValueError, match=r"points=\(3, 3\) is not allowed"):
        save_scatter(torch.zeros(3, 3), tmp_path / "bad.png")


def test_paired_comparison_sign_test_and_verdict():
    from latent_ebm.core.metrics import compare_runs, paired_comparison, sign_test_p

    # exact binomial: 5 of 5 wins -> 2 / 32; 3 of 6 -> 1
    assert sign_test_p(5, 5) == pytest.approx(2 / 32)
    assert sign_test_p(0, 5) == pytest.approx(2 / 32)
    assert sign_test_p(3, 6) == 1.0
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1.5, 2.4, 3.7, 4.2, 5.9, 6.3]
    c = paired_comparison(a, b)
    assert c["n"] == 6 and c["wins"] == 6 and c["mean_diff"] == pytest.approx(-0.5)
    assert c["ci95"][1] < 0 and c["sign_test_p"] == pytest.approx(2 / 64) and c["verdict"] == "lower"
    assert paired_comparison(b, a)["verdict"] == "higher"
    # three seeds can never reach p < 0.05 (2 / 8 at best): unresolved however large the gap
    assert paired_comparison([0.0, 0.0, 0.0], [9.0, 9.0, 9.0])["verdict"] == "unresolved"
    # ties leave the sign test: all tied is p = 1, not "0 wins of n"; 5 wins + 3 ties is 5 of 5
    tied = paired_comparison([0.0] * 20, [0.0] * 20)
    assert tied["ties"] == 20 and tied["sign_test_p"] == 1.0 and tied["verdict"] == "unresolved"
    some = paired_comparison([1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    assert some["wins"] == 5 and some["ties"] == 3 and some["sign_test_p"] == pytest.approx(2 / 32)
    with pytest.raises(ValueError, match="equally long"):
        paired_comparison([1.0], [2.0])
    runs = {"x": {"runs": [{"seed": s, "loss": s} for s in range(4)]},
            "y": {"runs": [{"seed": s, "loss": s + 1.0} for s in (1, 2, 3, 7)]}}
    out = compare_runs(runs, "x", ("y", "absent"), key="loss")
    assert list(out) == ["y"] and out["y"]["seeds"] == [1, 3] and out["y"]["n"] == 3 and out["y"]["mean_diff"] == -1.0
