"""FID wiring: Inception features for the paper config, never mixed with the offline classifier's."""

import importlib.util
from pathlib import Path

import pytest
import torch
import yaml

import latent_ebm.cdrl.metrics as metrics
from latent_ebm.cdrl import CDRLModule
from latent_ebm.core.testing.plugin import requires_dataset


class _FakeFID:
    """Stands in for the core's FeatureFID: records what it is built with and fed."""

    made: list = []

    def __init__(self, extractor, **kw):
        self.extractor, self.seen, self.device = extractor, [], torch.device("cpu")
        _FakeFID.made.append(self)

    def update(self, x, real):
        self.seen.append((x.clone(), real))

    def compute(self):
        return torch.tensor(1.5)


def test_inception_fid_feeds_rgb_images_in_unit_range(monkeypatch):
    monkeypatch.setattr(metrics, "FeatureFID", _FakeFID)
    _FakeFID.made.clear()
    real = torch.rand(6, 1, 32, 32) * 2 - 1
    fake = torch.randn(4, 1, 32, 32) * 3  # out of range: clamped like the official FID path
    out = metrics.sample_quality(real, fake, inception=True)
    assert set(out) == {"mmd", "fid_inception"} and out["fid_inception"] == 1.5
    (m,) = _FakeFID.made
    assert m.extractor == "inception"
    xs = torch.cat([x for x, _ in m.seen])
    assert xs.shape == (10, 3, 32, 32) and xs.min() >= 0 and xs.max() <= 1
    assert [r for _, r in m.seen] == [True, False]
    torch.testing.assert_close(m.seen[0][0][:, 0], (real[:, 0] + 1) / 2)


def test_feature_families_are_exclusive():
    with pytest.raises(ValueError, match="exclusive"):
        metrics.sample_quality(torch.zeros(2, 1, 32, 32), torch.zeros(2, 1, 32, 32), "mnist", inception=True)
    with pytest.raises(ValueError, match="fid_inception"):
        CDRLModule(data_shape=(1, 32, 32), fid_inception=True, fid_dataset="mnist")
    with pytest.raises(ValueError, match="fid_inception"):
        CDRLModule(data_shape=(2,), fid_inception=True)


@pytest.mark.skipif(importlib.util.find_spec("torch_fidelity") is not None, reason="torch-fidelity installed")
def test_inception_without_torch_fidelity_says_what_is_missing():
    with pytest.raises(RuntimeError, match="torch-fidelity"):
        metrics.inception_fid(torch.zeros(2, 3, 32, 32), torch.zeros(2, 3, 32, 32))


def test_paper_config_uses_inception_fid_on_cifar10():
    path = Path(metrics.__file__).parent / "configs" / "paper.yaml"
    cfg = yaml.safe_load(path.read_text())
    assert cfg["data"]["dataset"] == "cifar10" and cfg["model"]["fid_inception"] is True
    assert cfg["model"].get("fid_dataset") is None
    m = CDRLModule(**cfg["model"])  # the config is a valid constructor call
    assert m.hparams.fid_inception and m.data_shape == (3, 32, 32)


@requires_dataset("fashion-mnist")
@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_fid_classifier_trains_inside_validation_announced_and_cached(mode, quick_fid_classifier, capsys):
    """Issue 26: the first FID, computed inside validation (no_grad; Lightning's default is
    inference mode), trains the classifier, says so with the cache path, and a later run reads it."""
    real, fake = torch.rand(8, 1, 32, 32) * 2 - 1, torch.rand(8, 1, 32, 32) * 2 - 1
    context = torch.no_grad if mode == "no_grad" else torch.inference_mode
    with context():
        first = metrics.fid(real, fake, "fashion-mnist")
    cache = quick_fid_classifier / "cdrl" / "fashion-mnist" / "fid-classifier-32.pt"
    err = capsys.readouterr().err
    assert "training the FID feature classifier once" in err and str(cache) in err and cache.is_file()
    metrics.feature_extractor.cache_clear()  # as a new process: the classifier comes from the cache
    with context():
        again = metrics.fid(real, fake, "fashion-mnist")
    assert "training the FID" not in capsys.readouterr().err and again == pytest.approx(first)
