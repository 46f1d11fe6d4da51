"""What the paper configs and the EMA take from the official code (AlvinZhuyx/CDRL): the EBM's
depth and the DDPM UNet initializer (sizes counted on the official modules), torch_ema's decay
warm-up and its update count across a resume."""

import math
from pathlib import Path

import pytest
import torch
import yaml

import latent_ebm.cdrl.configs as configs
from latent_ebm.cdrl import CDRLModule
from latent_ebm.cdrl.model import ema_decay_at
from latent_ebm.cdrl.nets import UNetInitializer
from latent_ebm.core.samplers import LangevinSchedule

# counted on the official modules: EBM(temb_dim=128, n_blocks=8, use_sn=True) of models/ebm.py and
# Unet(dim=64) of models/unet.py, as main_uncond.py builds them for CIFAR-10
OFFICIAL_EBM = 34_833_152
OFFICIAL_UNET = 3_769_795


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _model_args(name: str) -> dict:
    cfg = yaml.safe_load((Path(configs.__file__).parent / f"{name}.yaml").read_text())
    return cfg["model"]


@pytest.mark.parametrize("name", ["paper", "drl-paper"])
def test_paper_configs_build_the_official_networks(name):
    m = CDRLModule(**_model_args(name))  # built, never trained
    assert m.hparams.ebm_blocks == 8 and _count(m.ebm) == OFFICIAL_EBM
    assert m.hparams.ema_warmup and m.hparams.ema_decay == 0.9999
    if name == "drl-paper":
        assert m.initializer is None
        return
    assert isinstance(m.initializer, UNetInitializer) and _count(m.initializer) == OFFICIAL_UNET
    assert m.initializer.unet.time_scale == 1000.0
    assert [d.p for d in m.initializer.modules() if isinstance(d, torch.nn.Dropout)] == [0.1] * 27


def test_unet_initializer_reads_the_level():
    init = UNetInitializer((1, 8, 8), width=8, mult=(1, 2), n_blocks=1, attention=(4,), dropout=0.0).eval()
    with torch.no_grad():
        for p in init.parameters():
            p.normal_(0, 0.1)
    x = torch.randn(1, 1, 8, 8).expand(2, -1, -1, -1)
    out = init(x, torch.tensor([-4.0, 6.0]))
    assert out.shape == x.shape and not torch.allclose(out[0], out[1], atol=1e-4)
    u = torch.atan(torch.exp(torch.tensor([2.0, -3.0]))) / (math.pi / 2)  # official level coordinate
    torch.testing.assert_close(out, init.unet(x, u))


def test_ema_decay_warm_up_sequence():
    # torch_ema counts the update, then uses min(decay, (1 + n) / (10 + n)): 2/11, 3/12, 4/13, ...
    assert [ema_decay_at(n, 0.9999) for n in range(1, 5)] == [2 / 11, 3 / 12, 4 / 13, 5 / 14]
    assert ema_decay_at(89_989, 0.9999) < 0.9999 and ema_decay_at(89_990, 0.9999) == 0.9999
    assert ema_decay_at(3, 0.2) == 0.2  # a small decay caps the warm-up
    assert ema_decay_at(1, 0.9999, warmup=False) == 0.9999


def _small(**kw) -> CDRLModule:
    return CDRLModule(data_shape=(2,), ebm_width=8, ebm_mult=(1,), init_width=8, init_mult=(1,),
                      revision=LangevinSchedule(n_steps=2), spectral_norm=False, **kw)


@pytest.mark.parametrize("warmup", [True, False])
def test_ema_of_a_constant_model(warmup):
    """Live weights p fixed, EMA started at q_0: q_n - p = prod_{i<=n} d_i (q_0 - p)."""
    m = _small(ema_decay=0.99, ema_warmup=warmup)
    with torch.no_grad():
        for p, q in zip(m.ebm.parameters(), m.ebm_ema.parameters()):
            p.fill_(1.0)
            q.fill_(-1.0)
    n = 30
    for _ in range(n):
        m.update_ema()
    assert int(m.ema_updates) == n
    gap = math.prod(ema_decay_at(i, 0.99, warmup) for i in range(1, n + 1))
    if warmup:  # prod (1 + i) / (10 + i) = 10! (n + 1)! / (n + 10)!, about 10! / n^9: gone within ~30 updates
        assert gap == pytest.approx(math.factorial(10) * math.factorial(n + 1) / math.factorial(n + 10))
        assert gap < 1e-5
    else:
        assert gap == pytest.approx(0.99**n)
    for q in m.ebm_ema.parameters():
        torch.testing.assert_close(q, torch.full_like(q, 1.0 - 2.0 * gap))


def test_ema_count_is_saved_and_restored():
    m = _small()
    for _ in range(7):
        m.update_ema()
    fresh = _small()
    fresh.load_state_dict(m.state_dict())
    assert int(fresh.ema_updates) == 7
    fresh.update_ema()
    assert int(fresh.ema_updates) == 8
    # a checkpoint from before the count existed: one EMA update per iteration so far
    old = {"state_dict": {k: v for k, v in m.state_dict().items() if k != "ema_updates"},
           "latent_ebm": {"iterations": 5}}
    older = _small()
    older.on_load_checkpoint(old)
    older.load_state_dict(old["state_dict"])
    assert int(older.ema_updates) == 5
