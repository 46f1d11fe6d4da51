"""Known answers of the method: domain routing of the heads and style codes, the revision under
an exact quadratic energy, the teaching loss as the squared error to the revision, the renderer's
exact targets, progressive stages, and a short fit that separates real from revised images."""

import pytest
import torch

from latent_ebm.coop_i2i import CoopI2IDataModule, CoopI2IModule, render
from latent_ebm.coop_i2i.data import shape_masks
from latent_ebm.core.testing.contract import tiny_trainer

TINY = dict(image_size=8, style_dim=4, latent_dim=4, dim_base=4, max_dim=8, bottleneck=4, n_bottleneck=1,
            mapping_hidden=8, mapping_shared=1, mapping_head=1, seed=0)


def _module(**kw):
    return CoopI2IModule(**{**TINY, **kw})


def test_heads_are_domain_specific():
    """The energy under target d reads head d only: changing head d's weights changes E(.|d) and
    nothing else; the style encoder's and generator's head d give the style of domain d."""
    torch.manual_seed(0)
    m = _module(ref_sigma=None)
    x = torch.randn(5, 3, 8, 8)
    before = {d: m.energy(x, {"target": torch.full((5,), d)}).detach() for d in range(3)}
    with torch.no_grad():
        m.descriptor.heads.weight[1] += 1.0
    after = {d: m.energy(x, {"target": torch.full((5,), d)}).detach() for d in range(3)}
    assert not torch.allclose(before[1], after[1])
    torch.testing.assert_close(before[0], after[0])
    torch.testing.assert_close(before[2], after[2])
    torch.testing.assert_close(after[2], -m.scores(x)[:, 2].detach())
    # E and M: the style for target d is head d's output
    tgt = torch.tensor([0, 1, 2, 1, 0])
    s_ref = m.style(tgt, ref=x)
    torch.testing.assert_close(s_ref[1], m.style_encoder(x)[1, 1])
    z = torch.randn(5, 4)
    torch.testing.assert_close(m.style(tgt, z=z)[2], m.style_generator.heads[2](m.style_generator.shared(z[2:3]))[0])


def test_reference_term_is_the_gaussian_energy():
    m = _module(ref_sigma=0.5)
    x = torch.randn(4, 3, 8, 8)
    t = torch.tensor([0, 1, 2, 0])
    e = m.energy(x, {"target": t})
    want = -m.scores(x).gather(1, t[:, None])[:, 0] + x.flatten(1).square().sum(1) / (2 * 0.25)
    torch.testing.assert_close(e, want)


class _Quadratic(torch.nn.Module):
    """f(x)[k] = -||x - c_k||² / 2: head k is the log-density of N(c_k, I) (up to a constant)."""

    def __init__(self, centres):
        super().__init__()
        self.c = torch.nn.Parameter(centres)

    def forward(self, x):
        return -0.5 * (x[:, None] - self.c[None]).flatten(2).square().sum(2)


def test_revision_lowers_the_target_heads_energy_and_teaching_regresses_onto_it():
    """With the descriptor replaced by exact quadratic heads around known images, noiseless
    Langevin moves a translation toward the target head's centre (its energy falls, other heads'
    centres are not approached), and the teaching loss is the squared error to the revision: its
    gradient steps reduce the translator's distance to the revision."""
    torch.manual_seed(0)
    m = _module(ref_sigma=None, revision={"n_steps": 20, "step_size": 0.3, "noise_scale": 0.0},
                lambda_sty=0.0, lambda_ds=0.0, lambda_cyc=0.0, initializer_sigma=1.0)
    centres = torch.randn(3, 3, 8, 8)
    m.descriptor = _Quadratic(centres)
    x = torch.randn(6, 3, 8, 8)
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    cond = {"target": target}
    x_hat = m.translator(x, m.style(target, z=torch.randn(6, 4)))
    x_rev = m.revise(x_hat, cond)
    c = centres[target]
    assert ((x_rev - c).flatten(1).norm(dim=1) < 0.5 * (x_hat - c).flatten(1).norm(dim=1)).all()
    assert (m.energy(x_rev, cond) < m.energy(x_hat.detach(), cond)).all()
    # exact: each ULA step without noise contracts the distance by (1 - s²/2)
    shrink = (1 - 0.3**2 / 2) ** 20
    torch.testing.assert_close(x_rev - c, (x_hat.detach() - c) * shrink, atol=1e-5, rtol=1e-4)
    # the translator's loss is ||x_rev - x_hat||² / (2 sigma²) per example, batch mean
    loss = m.initializer_loss(x_hat, x_rev, {**cond, "style": None})
    torch.testing.assert_close(loss, (x_rev - x_hat).flatten(1).square().sum(1).mean() / 2)
    opt = torch.optim.Adam(m.translator.parameters(), lr=1e-2)
    s = m.style(target, z=torch.randn(6, 4)).detach()
    start = None
    for _ in range(30):
        opt.zero_grad()
        out = m.translator(x, s)
        d = m.initializer_loss(out, x_rev, {**cond, "style": None})
        start = float(d) if start is None else start
        d.backward()
        opt.step()
    assert float(d) < 0.5 * start


def test_renderer_exact_targets():
    """Re-rendering with an image's own domain and style returns it; the oracle of a reference
    from the same content is the reference itself; domains differ for the same content."""
    masks, _ = shape_masks(6, 16, seed=1)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    u = torch.rand(6, 4, generator=torch.Generator().manual_seed(2))
    x = render(masks, y, u)
    assert x.shape == (6, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
    torch.testing.assert_close(render(masks, y, u), x, rtol=0, atol=0)
    other = render(masks, (y + 1) % 3, u)
    assert ((other - x).flatten(1).abs().mean(1) > 0.1).all()
    dm = CoopI2IDataModule("shapes", image_size=16, n_train=8, n_val=8, n_test=8)
    dm.setup("fit")
    item = dm.val_set[0]
    j = int(dm.val_set.ref[0])
    want = render(dm.val_set.masks[0:1], dm.val_set.y[j: j + 1], dm.val_set.style[j: j + 1])[0]
    torch.testing.assert_close(item["x_oracle"], want)
    assert item["y_ref"] != item["y"]


def test_progressive_stages_switch_resolution():
    m = _module(image_size=16, stages=[8, 16], stage_steps=[3])
    x = torch.randn(2, 3, 16, 16)
    assert m.resolution == 8 and m.data({"x": x, "y": torch.zeros(2, dtype=torch.long)}, None).shape[-1] == 8
    out = m.translate(x, torch.tensor([0, 1]), z=torch.randn(2, 4))
    assert out.shape == (2, 3, 8, 8) and m.scores(out).shape == (2, 3)
    m.iterations = 3
    assert m.stage() == 1 and m.translate(x, torch.tensor([0, 1]), z=torch.randn(2, 4)).shape == (2, 3, 16, 16)


def test_unknown_domain_and_wrong_size_are_one_line_errors():
    m = _module()
    with pytest.raises(ValueError, match=r"target=\[5\] is not allowed; domains are 0..2"):
        m.translate(torch.zeros(1, 3, 8, 8), torch.tensor([5]), z=torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"x.shape=\(2, 3, 16, 16\) is not allowed"):
        m.split_batch({"x": torch.zeros(2, 3, 16, 16), "y": torch.zeros(2, dtype=torch.long)})
    with pytest.raises(ValueError, match="y=.*is not allowed"):
        m.split_batch({"x": torch.zeros(2, 3, 8, 8), "y": torch.tensor([0, 3])})


def test_training_step_uses_every_switch_and_one_backward(tmp_path):
    """One step with every extra loss on logs each of them; with all off (and no teaching) the
    translator gets no gradient from the step."""
    dm = CoopI2IDataModule("shapes", image_size=8, n_train=8, batch_size=8)
    m = _module(revision={"n_steps": 2, "step_size": 0.1})
    trainer = tiny_trainer(tmp_path, max_steps=3)
    trainer.fit(m, dm)
    for key in ("teach_loss", "style_loss", "ds_loss", "cycle_loss", "energy_loss", "f_real", "f_revised"):
        assert f"train/{key}" in trainer.callback_metrics
    off = _module(revision={"n_steps": 2, "step_size": 0.1}, lambda_sty=0.0, lambda_ds=0.0, lambda_cyc=0.0,
                  mcmc_teaching=False)
    before = [p.detach().clone() for p in off.translator.parameters()]
    tiny_trainer(tmp_path, max_steps=3).fit(off, dm)
    assert all(torch.equal(a, b) for a, b in zip(before, off.translator.parameters()))


@pytest.mark.parametrize("ds_detach", [True, False])
def test_ds_detach_stops_the_gradient_through_the_second_translation(ds_detach):
    """The diversity term alone, on a fixed first image: with ``ds_detach`` (StarGAN v2) the
    translator gets no gradient from it; without, G(x, s2) is pushed away and the translator does."""
    torch.manual_seed(0)
    m = _module(lambda_sty=0.0, lambda_cyc=0.0, ds_detach=ds_detach)
    n = 4
    cond = {"source": torch.randn(n, 3, 8, 8), "target": torch.tensor([0, 1, 2, 1]), "z2": torch.randn(n, 4),
            "y": torch.tensor([1, 0, 0, 2]), "style": torch.randn(n, 4)}
    fixed = torch.randn(n, 3, 8, 8, requires_grad=True)  # stands for G(x, s1); its own path is not under test
    loss, logs = m.extra_losses(fixed, cond, detach_ds=m.hparams.ds_detach)
    loss.backward()
    assert "train/ds_loss" in logs and fixed.grad.abs().sum() > 0
    grads = [p.grad for p in m.translator.parameters()]
    if ds_detach:
        assert all(g is None or not g.any() for g in grads)
    else:
        assert any(g is not None and g.any() for g in grads)


def test_fit_separates_real_from_revised(tmp_path):
    """A short fit on rendered shapes: the descriptor scores real images of each domain above the
    revised translations into it (positive gap f(real) - f(revised) under the right head)."""
    dm = CoopI2IDataModule("shapes", image_size=8, n_train=64, n_val=32, batch_size=16)
    m = _module(revision={"n_steps": 5, "step_size": 0.1, "noise_scale": 0.1}, energy_optim={"lr": 2e-3},
                initializer_optim={"lr": 2e-3}, ref_sigma=None)
    trainer = tiny_trainer(tmp_path, max_epochs=4)
    gap0 = -trainer.validate(m, dm, verbose=False)[0]["val/energy_gap"]
    trainer = tiny_trainer(tmp_path, max_epochs=4)
    trainer.fit(m, dm)
    gap1 = -trainer.validate(m, dm, verbose=False)[0]["val/energy_gap"]
    assert gap1 > gap0 + 0.1 and gap1 > 0, (gap0, gap1)


def test_translator_skips():
    """The high-pass filter zeroes a constant map and keeps an edge; with the decoder's to-RGB
    zeroed, ``residual`` is the identity; ``unet`` / ``hpf`` make the output depend on the source
    through the skip (a change of the source that the bottleneck cannot see still moves the output);
    an unknown skip is a one-line error."""
    from latent_ebm.coop_i2i.nets import HighPass, Translator

    hp = HighPass()
    assert torch.allclose(hp(torch.full((1, 2, 6, 6), 3.0)), torch.zeros(1, 2, 6, 6))  # borders too
    edge = torch.zeros(1, 1, 6, 6)
    edge[..., 3:] = 1.0
    assert hp(edge)[0, 0, 2, 2] == -3.0 and hp(edge)[0, 0, 2, 3] == 3.0
    torch.manual_seed(0)
    x, s = torch.randn(2, 3, 16, 16), torch.randn(2, 4)
    res = Translator(3, 16, 4, 4, 8, bottleneck=4, n_bottleneck=1, skip="residual")
    for p in res.to_rgb.parameters():
        torch.nn.init.zeros_(p)
    assert torch.equal(res(x, s), x)
    for skip in ("unet", "hpf"):
        g = Translator(3, 16, 4, 4, 8, bottleneck=4, n_bottleneck=1, skip=skip)
        ablated = Translator(3, 16, 4, 4, 8, bottleneck=4, n_bottleneck=1)
        ablated.load_state_dict(g.state_dict())
        x2 = x.clone()
        x2[:, :, 5, 5] += 3.0  # one pixel: a local change reaches the 16x16 output through the skip
        near = (slice(None), slice(None), slice(4, 7), slice(4, 7))
        far = (slice(None), slice(None), slice(12, 16), slice(12, 16))
        d = (g(x2, s) - g(x, s)).abs()
        assert d[near].mean() > 5 * d[far].mean()
        assert (ablated(x2, s) - ablated(x, s)).abs()[near].mean() < d[near].mean()
    with pytest.raises(ValueError, match="skip='x' is not allowed"):
        Translator(3, 16, 4, 4, 8, bottleneck=4, skip="x")
    assert _module(translator_skip="hpf").translator.skip == "hpf"


def test_langevin_noise_off_is_coopnets_noiseless_revision():
    """``langevin_noise: false`` (CoopNets' code: the noise drawn, never added) revises
    deterministically, equal to the same schedule with noise_scale 0; with the noise on, two
    generators give two revisions."""
    torch.manual_seed(0)
    rev = {"n_steps": 3, "step_size": 0.2, "noise_scale": 0.5}
    off = _module(ref_sigma=None, langevin_noise=False, revision=rev)
    on = _module(ref_sigma=None, revision=rev)
    zero = _module(ref_sigma=None, revision={**rev, "noise_scale": 0.0})
    on.load_state_dict(off.state_dict())
    zero.load_state_dict(off.state_dict())
    assert off.revision_schedule.noise_scale == 0.0 and off.hparams.revision["noise_scale"] == 0.5
    x, cond = torch.randn(4, 3, 8, 8), {"target": torch.tensor([0, 1, 2, 0])}
    a = off.revise(x, cond, generator=torch.Generator().manual_seed(1))
    b = off.revise(x, cond, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, zero.revise(x, cond, generator=torch.Generator().manual_seed(3)))
    assert not torch.allclose(on.revise(x, cond, generator=torch.Generator().manual_seed(1)),
                              on.revise(x, cond, generator=torch.Generator().manual_seed(2)))
    assert not torch.allclose(a, x)  # it still descends the energy
