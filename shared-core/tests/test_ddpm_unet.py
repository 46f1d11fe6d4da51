"""DDPMUNet: shapes, identity start, conditioning, the CDRL paper setting's size, bad settings."""

import pytest
import torch

from latent_ebm.core.nn import DDPMUNet


def _small(**kw) -> DDPMUNet:
    args = dict(in_channels=2, width=16, mult=(1, 2), n_blocks=1, attn_resolutions=(8,), image_size=16,
                groups=8, dropout=0.0)
    return DDPMUNet(**{**args, **kw})


def _randomise(net: DDPMUNet) -> DDPMUNet:
    """Non-zero weights everywhere (the zero-initialised convs would hide the conditioning)."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=gen))
    return net


def test_shape_and_identity_at_init():
    net = _small()
    x = torch.randn(3, 2, 16, 16)
    out = net(x, torch.rand(3))
    assert out.shape == x.shape
    # zero weights in the final conv (official): U starts as x + its bias, the same for every input
    bias = net.head[-1].bias.view(1, -1, 1, 1)
    torch.testing.assert_close(out, x + bias)
    plain = _small(residual=False)
    torch.testing.assert_close(plain(x, torch.rand(3)), plain.head[-1].bias.view(1, -1, 1, 1).expand_as(x))


def test_conditioning_changes_the_output():
    net = _randomise(_small(num_classes=3)).eval()
    x = torch.randn(1, 2, 16, 16).expand(4, -1, -1, -1)
    t = torch.tensor([0.1, 0.9, 0.1, 0.1])
    y = torch.tensor([0, 0, 1, 0])
    out = net(x, t, y)
    assert not torch.allclose(out[0], out[1], atol=1e-4)  # another level
    assert not torch.allclose(out[0], out[2], atol=1e-4)  # another class
    torch.testing.assert_close(out[0], out[3])  # same inputs, same output (eval: no dropout)
    null = net(x[:1], t[:1])  # y=None: the null label
    torch.testing.assert_close(null, net(x[:1], t[:1], torch.tensor([3])))


def test_gradients_reach_every_parameter():
    net = _randomise(_small(num_classes=2))
    net(torch.randn(2, 2, 16, 16), torch.rand(2), torch.tensor([0, 1])).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_cdrl_paper_setting_parameter_count():
    # the official CDRL initializer Unet(dim=64) (models/unet.py): base 64, mult (1, 1, 1), 3 blocks,
    # attention at 16 and 8 and in the middle; 3,769,795 parameters counted on the official module
    net = DDPMUNet(3, 64, (1, 1, 1), 3, (16, 8))
    assert sum(p.numel() for p in net.parameters()) == 3_769_795
    attn = [m for m in net.modules() if type(m).__name__ == "_Attention"]
    assert len(attn) == 3 * 2 + 4 * 2 + 1  # 16x16 and 8x8, down (3 each) and up (4 each), middle


@pytest.mark.parametrize(
    ("kw", "name"),
    [({"groups": 5}, "groups"), ({"image_size": 15}, "image_size"), ({"dropout": 1.0}, "dropout"),
     ({"width": 0}, "width"), ({"heads": 3}, "heads")],
)
def test_bad_settings(kw, name):
    with pytest.raises(ValueError, match=f"{name}=.* is not allowed"):
        _small(**kw)


def test_bad_inputs():
    net = _small()
    with pytest.raises(ValueError, match="x.shape=.* is not allowed"):
        net(torch.randn(1, 2, 8, 8), torch.rand(1))
    with pytest.raises(ValueError, match="t.shape=.* is not allowed"):
        net(torch.randn(2, 2, 16, 16), torch.rand(1))
