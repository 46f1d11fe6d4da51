import math

import pytest
import torch

from latent_ebm.cdrl import NoiseSchedule


def test_endpoints_and_monotonic():
    s = NoiseSchedule(6, -5.1, 9.8)
    lv = s.levels()
    assert lv[0].item() == pytest.approx(9.8, abs=1e-9)
    assert lv[-1].item() == pytest.approx(-5.1, abs=1e-9)
    assert (lv[1:] < lv[:-1]).all()
    fine = s.logsnr(torch.linspace(0, 1, 1001, dtype=torch.float64))
    assert (fine[1:] < fine[:-1]).all()


def test_level_coefficients_match_their_definitions():
    s = NoiseSchedule(6, -5.1, 9.8, step_coeff=2e-4)
    c = s.coefficients(torch.arange(1, 7))
    a_t, a_s = torch.sigmoid(c.logsnr_t.double()), torch.sigmoid(c.logsnr_s.double())
    torch.testing.assert_close(c.beta.double(), 1 - a_t / a_s, rtol=1e-5, atol=1e-7)
    assert (c.beta > 0).all() and (c.beta < 1).all()
    # final level: no tether, m = 1; other levels m = sqrt(alpha_t / alpha_{t-1})
    assert c.final.tolist() == [0, 0, 0, 0, 0, 1]
    torch.testing.assert_close(c.scale[:5].double(), (a_t / a_s).sqrt()[:5], rtol=1e-5, atol=0)
    assert c.scale[5] == 1
    # c_1 = 1, weight_1 = 1 (sigma_1 / sigma_1), both monotone across levels
    assert c.c[0].item() == pytest.approx(1.0, rel=1e-5)
    assert c.weight[0].item() == pytest.approx(1.0, rel=1e-5)
    assert (c.c[1:] > c.c[:-1]).all() and (c.weight[1:] < c.weight[:-1]).all()
    torch.testing.assert_close(c.step_sq, 2 * 2e-4 * c.c * c.beta)
    # beta_tilde = (1 - a_s) / (1 - a_t) beta
    torch.testing.assert_close(c.beta_tilde.double(), (1 - a_s) / (1 - a_t) * (1 - a_t / a_s),
                               rtol=1e-4, atol=1e-9)
    assert s.alpha_0 == pytest.approx(1 / (1 + math.exp(-9.8)))


@pytest.mark.parametrize("kw", [dict(n_levels=0), dict(logsnr_min=3.0, logsnr_max=1.0), dict(step_coeff=0.0)])
def test_bad_schedule_settings(kw):
    with pytest.raises(ValueError):
        NoiseSchedule(**kw)


def test_bad_levels():
    s = NoiseSchedule(6)
    with pytest.raises(ValueError, match="1..6"):
        s.coefficients(torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="integer"):
        s.coefficients(torch.tensor([1.0]))
