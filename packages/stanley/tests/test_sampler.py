"""The chains: STANLEY with th -> inf is ULA bit for bit through the module's path; the noiseless
drift is truncated at th/2; the released code's variants against their formulas; diverged chains
are detected per chain."""

import math

import pytest
import torch

from latent_ebm.core import ops
from latent_ebm.core.rng import SEED_HIGH
from latent_ebm.core.samplers import LangevinSchedule, langevin
from latent_ebm.stanley import StanleyModule, run_chains


def _module(sampler, **rev):
    return StanleyModule(data_shape=(1, 32, 32), width=4, sampler=sampler,
                         revision={"n_steps": 4, "noise_scale": 0.01, **rev}, seed=5)


def test_infinite_threshold_is_ula_bit_for_bit_through_the_module():
    x0 = torch.rand(3, 1, 32, 32) * 2 - 1
    st = _module("stanley", threshold=1e30)
    ula = _module("ula")
    ula.load_state_dict(st.state_dict())  # the same network
    a = st.revise(x0, None, generator=torch.Generator().manual_seed(11))
    b = ula.revise(x0, None, generator=torch.Generator().manual_seed(11))
    assert torch.equal(a, b) and not torch.equal(a, x0)
    # and both are the core's ULA with unit step and noise eps (same Philox stream)
    ref = langevin(lambda v: st.energy(v), x0, 4, 1.0, noise_scale=0.01, generator=torch.Generator().manual_seed(11))
    assert torch.equal(a, ref)
    # a finite threshold really changes the path
    c = _module("stanley", threshold=1e-3)
    c.load_state_dict(st.state_dict())
    assert not torch.equal(c.revise(x0, None, generator=torch.Generator().manual_seed(11)), a)


def _linear(a):
    """E(x) = -a·x: grad f = a everywhere."""
    return lambda x: -(x * a).flatten(1).sum(1)


def test_noiseless_paper_step_is_truncated_at_half_threshold():
    a = torch.tensor([[0.001, -0.5, 3.0, -20.0]])
    th = 0.1
    x = run_chains(_linear(a), torch.zeros(1, 4), LangevinSchedule(1, 1.0, noise_scale=0.0, threshold=th))
    expected = torch.where(a.abs() <= th, a / 2, th / 2 * a.sign())
    torch.testing.assert_close(x, expected)
    assert x.abs().max() <= th / 2 + 1e-7


@pytest.mark.parametrize("variant", ["code_both", "code_noise"])
@pytest.mark.parametrize("granularity", ["element", "sample"])
def test_released_code_variants_follow_their_formulas(variant, granularity):
    a = torch.tensor([[0.02, -0.5], [3.0, 0.01]])
    th, eps = 0.1, 0.3
    sched = LangevinSchedule(1, 1.0, noise_scale=eps, threshold=th, granularity=granularity)
    x = run_chains(_linear(a), torch.zeros(2, 2), sched, variant=variant, generator=torch.Generator().manual_seed(4))
    seed = int(torch.randint(0, SEED_HIGH, (), dtype=torch.int64, generator=torch.Generator().manual_seed(4)))
    xi = ops.philox_normal((2, 2), seed, 0, torch.device("cpu"), torch.float32)
    mag = a.abs() if granularity == "element" else a.norm(dim=1, keepdim=True)
    gamma = th / mag.clamp_min(th)
    drift = gamma * a if variant == "code_both" else a
    torch.testing.assert_close(x, drift + eps * gamma * xi)


def test_code_variants_are_stanley_only():
    with pytest.raises(ValueError, match="variant='code_both' is not allowed"):
        StanleyModule(data_shape=(2,), sampler="ula", variant="code_both")


@pytest.mark.parametrize("sampler", ["stanley", "ula", "mala"])
def test_diverged_chains_are_detected_per_chain(sampler):
    """Chains 1 and 3 start where the energy is infinite; the others run on, finite."""
    def energy(x):
        return 0.5 * x.square().sum(1) + torch.where(x[:, 0] > 50, math.inf, 0.0)

    x0 = torch.zeros(5, 2)
    x0[[1, 3], 0] = 100.0
    x = run_chains(energy, x0, LangevinSchedule(5, 0.5, noise_scale=1.0, threshold=1.0), sampler=sampler,
                   generator=torch.Generator().manual_seed(0))
    finite = torch.isfinite(x).all(1)
    if sampler == "mala":  # infinite-energy proposals are rejected: the start of chains 1 and 3
        assert finite.all()
    else:
        assert finite.tolist() == [True, False, True, False, True]
    assert torch.isfinite(x[[0, 2, 4]]).all() and not torch.equal(x[[0, 2, 4]], x0[[0, 2, 4]])
