"""latent_ebm.core.ops: the Philox stream, the update formulas, input checks, backend switch.

The known-answer vectors, the noise statistics and the bad-input checks run on every backend
there is (fixture ``be``: the torch reference, cpp where it builds, cuda with a GPU and nvcc;
the others skip), forced through ``LATENT_EBM_OPS`` on that backend's device. The update
formulas run on whichever backend serves CPU; test_ops_backends.py compares the backends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType

import pytest
import torch

from latent_ebm.core import ops
from latent_ebm.core.ops import _build, _reference

# Random123 known-answer vectors for Philox4x32-10 (its tests/kat_vectors): counter, key, output.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]
N_STAT = 1 << 20  # samples for the moment tests; 5 standard errors is the tolerance
SE = 1.0 / math.sqrt(N_STAT)


def _box_muller(words) -> list[float]:
    """The four normals of one Philox block, by hand: u = ((w >> 9) + 0.5) / 2^23, Box-Muller pairs."""
    u = [((int(v) >> 9) + 0.5) / 2**23 for v in words]
    r0, r1 = math.sqrt(-2 * math.log(u[0])), math.sqrt(-2 * math.log(u[2]))
    return [r0 * math.cos(2 * math.pi * u[1]), r0 * math.sin(2 * math.pi * u[1]),
            r1 * math.cos(2 * math.pi * u[3]), r1 * math.sin(2 * math.pi * u[3])]

BACKENDS = [
    pytest.param("torch", id="torch"),
    pytest.param("cpp", id="cpp"),
    pytest.param(
        "cuda",
        id="cuda",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
        ],
    ),
]


@dataclass(frozen=True)
class Backend:
    name: str  # the LATENT_EBM_OPS value
    device: str  # where its tensors live
    module: ModuleType  # the implementation (kernels module or _reference)

    def philox4x32_10(self, ctr: tuple[int, ...], key: tuple[int, int]) -> tuple[int, ...]:
        if self.module is _reference:
            words = _reference.philox4x32_10(tuple(torch.tensor([c]) for c in ctr), key)
            return tuple(int(w) for w in words)
        return tuple(self.module.philox4x32_10(list(ctr), list(key)))


def load_backend(name: str) -> Backend:
    """The backend ``name`` (a test skips where it is unavailable)."""
    if name == "torch":
        return Backend("torch", "cpu", _reference)
    mod = _build.load_cpp() if name == "cpp" else _build.load_cuda()
    if mod is None:
        pytest.skip(f"{name} kernels unavailable: {_build._FAILURES.get(name)}")
    return Backend(name, "cuda" if name == "cuda" else "cpu", mod)


@pytest.fixture(params=BACKENDS)
def be(request, monkeypatch):
    """Each backend in turn, forced by LATENT_EBM_OPS, so the public ops run on it."""
    backend = load_backend(request.param)
    monkeypatch.setenv(_build.ENV_VAR, backend.name)
    assert ops.backend(backend.device) == backend.name
    return backend


@pytest.mark.parametrize(("ctr", "key", "out"), KAT)
def test_philox_known_answers(be, ctr, key, out):
    # cpp/cuda: the block function of csrc/philox.h as each compiler built it (cuda: host side;
    # the device side is checked by the stream-layout test below)
    assert be.philox4x32_10(ctr, key) == out


def test_first_known_answer_through_the_noise_stream(be):
    # KAT 0 is block 0 of stream (seed 0, offset 0): its Box-Muller normals, on the device
    expect = _box_muller(KAT[0][2])
    z = ops.philox_normal((4,), 0, 0, device=be.device, dtype=torch.float64).cpu()
    torch.testing.assert_close(z, torch.tensor(expect, dtype=torch.float64), rtol=1e-5, atol=1e-6)


def test_stream_layout_matches_documentation(be):
    # element i = lane i % 4 of block i // 4; block counter = (i // 4, 0, offset lo, offset hi)
    seed, offset = 0x0123456789ABCDEF, (7 << 32) + 5
    z = ops.philox_normal((8,), seed, offset, device=be.device, dtype=torch.float64).cpu()
    w = _reference.philox4x32_10(
        (torch.tensor([1]), torch.tensor([0]), torch.tensor([5]), torch.tensor([7])),
        (0x89ABCDEF, 0x01234567),
    )
    expect = _box_muller(w)
    torch.testing.assert_close(
        z[4:], torch.tensor(expect, dtype=torch.float64), rtol=1e-5, atol=1e-6
    )


def test_noise_moments(be):
    z = ops.philox_normal((N_STAT,), 2024, 0, device=be.device, dtype=torch.float64)
    assert abs(z.mean().item()) < 5 * SE
    assert abs(z.var().item() - 1.0) < 5 * math.sqrt(2.0) * SE
    assert abs((z**4).mean().item() - 3.0) < 5 * math.sqrt(96.0) * SE  # Box-Muller tails
    assert z.abs().max().item() <= math.sqrt(2 * 24 * math.log(2)) + 1e-5


@pytest.mark.parametrize("lag", [1, 2, 3, 4])
def test_no_correlation_between_neighbours(be, lag):
    z = ops.philox_normal((N_STAT + lag,), 99, 3, device=be.device, dtype=torch.float64)
    a, b = z[:-lag], z[lag:]
    assert abs((a * b).mean().item()) < 5 * SE
    # squares too: a shared Box-Muller radius would show up here
    assert abs(((a**2 - 1) * (b**2 - 1)).mean().item()) < 5 * math.sqrt(8.0) * SE


def test_no_correlation_between_consecutive_offsets_and_seeds(be):
    z0 = ops.philox_normal((N_STAT,), 7, 10, device=be.device, dtype=torch.float64)
    z1 = ops.philox_normal((N_STAT,), 7, 11, device=be.device, dtype=torch.float64)
    z2 = ops.philox_normal((N_STAT,), 8, 10, device=be.device, dtype=torch.float64)
    assert abs((z0 * z1).mean().item()) < 5 * SE
    assert abs((z0 * z2).mean().item()) < 5 * SE


def test_kolmogorov_smirnov(be):
    stats = pytest.importorskip("scipy.stats")
    z = ops.philox_normal((200_000,), 5, 1, device=be.device).double().cpu().numpy()
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_same_offset_same_noise_different_offset_different(be):
    def draw(shape, seed, offset):
        return ops.philox_normal(shape, seed, offset, device=be.device)

    a = draw((1000,), 1, 5)
    assert torch.equal(a, draw((1000,), 1, 5))
    assert not torch.equal(a, draw((1000,), 1, 6))
    assert not torch.equal(a, draw((1000,), 2, 5))
    # a prefix of a longer draw is the shorter draw (the counter is the element index)
    assert torch.equal(a[:999], draw((999,), 1, 5))
    assert torch.equal(a.reshape(10, 100), draw((10, 100), 1, 5))


def test_large_seed_and_offset(be):
    big = (1 << 64) - 1
    z = ops.philox_normal((5,), big, big, device=be.device).cpu()
    ref = _reference.philox_normal((5,), big, big, "cpu", torch.float32)
    torch.testing.assert_close(z, ref, rtol=2e-6, atol=2e-6)
    assert not torch.equal(z, ops.philox_normal((5,), big, big - 1, device=be.device).cpu())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ula_formula(dtype):
    x = torch.randn(6, 7, dtype=dtype)
    g = torch.randn(6, 7, dtype=dtype)
    s, ns = 0.3, 0.7
    eps = ops.philox_normal(x.shape, 11, 4, dtype=torch.float64)
    expect = x.double() - (s * s / 2) * g.double() + s * ns * eps
    out = ops.langevin_update_(x, g, s, ns, 11, 4)
    assert out is x
    torch.testing.assert_close(x.double(), expect, rtol=1e-5, atol=1e-6)


def test_anisotropic_formula():
    x = torch.randn(4, 9, dtype=torch.float64)
    g = 3 * torch.randn(4, 9, dtype=torch.float64)  # some |g| above, some below the threshold
    s, ns, thr = 0.2, 0.9, 1.5
    eps = ops.philox_normal(x.shape, 3, 8, dtype=torch.float64)
    s2 = s * s * thr / torch.clamp(g.abs(), min=thr)
    expect = x - s2 / 2 * g + s2.sqrt() * ns * eps
    ops.anisotropic_update_(x, g, s, ns, thr, 3, 8)
    torch.testing.assert_close(x, expect, rtol=1e-6, atol=1e-7)
    # with a huge threshold it is ULA
    y, z = torch.randn(3, 5), None
    z = y.clone()
    gy = torch.randn(3, 5)
    ops.anisotropic_update_(y, gy, 0.1, 1.0, 1e6, 0, 0)
    ops.langevin_update_(z, gy, 0.1, 1.0, 0, 0)
    torch.testing.assert_close(y, z)


def test_mala_propose_returns_ula_proposal_and_log_q():
    x = torch.randn(5, 3, 4)
    g = torch.randn(5, 3, 4)
    before = x.clone()
    prop, log_q = ops.mala_propose(x, g, 0.25, 1.0, 21, 2)
    assert torch.equal(x, before)  # out of place
    ula = ops.langevin_update_(x.clone(), g, 0.25, 1.0, 21, 2)
    torch.testing.assert_close(prop, ula)
    eps = ops.philox_normal(x.shape, 21, 2, dtype=torch.float64)
    assert log_q.shape == (5,) and log_q.dtype == torch.float32
    torch.testing.assert_close(
        log_q.double(), -0.5 * eps.square().sum(dim=(1, 2)), rtol=1e-6, atol=1e-6
    )
    # log_q is log q(x'|x) + D/2 log(2 pi sigma^2): check against the Gaussian density
    sigma = 0.25
    mean = before.double() - (0.25**2 / 2) * g.double()
    dens = torch.distributions.Normal(mean, sigma).log_prob(prop.double()).sum(dim=(1, 2))
    torch.testing.assert_close(
        log_q.double() - 12 / 2 * math.log(2 * math.pi * sigma**2), dens, rtol=1e-4, atol=1e-4
    )


def test_zero_sized_and_scalar_tensors():
    x = torch.zeros(0, 3)
    assert ops.langevin_update_(x, torch.zeros(0, 3), 0.1, 1.0, 0, 0).shape == (0, 3)
    assert ops.philox_normal((0,), 0, 0).shape == (0,)
    s = torch.tensor(1.0)
    ops.langevin_update_(s, torch.tensor(0.0), 1.0, 1.0, 3, 3)
    assert s.item() == pytest.approx(1.0 + ops.philox_normal((1,), 3, 3).item(), abs=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"step_size": float("nan")}, "step_size"),
        ({"step_size": -0.1}, "step_size"),
        ({"step_size": float("inf")}, "step_size"),
        ({"noise_scale": -1.0}, "noise_scale"),
        ({"seed": -1}, "seed"),
        ({"seed": 1 << 64}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"offset": -3}, "offset"),
        ({"step_size": True}, "step_size"),
    ],
)
def test_bad_scalars_raise(be, kwargs, name):
    args = {"step_size": 0.1, "noise_scale": 1.0, "seed": 0, "offset": 0} | kwargs
    x, g = torch.zeros(2, 3, device=be.device), torch.zeros(2, 3, device=be.device)
    with pytest.raises(ValueError, match=name):
        ops.langevin_update_(x, g, **args)
    with pytest.raises(ValueError, match=name):
        ops.mala_propose(x, g, **args)
    with pytest.raises(ValueError, match=name):
        ops.anisotropic_update_(x, g, threshold=1.0, **args)


@pytest.mark.parametrize("threshold", [0.0, -1.0, float("nan")])
def test_bad_threshold_raises(be, threshold):
    x, g = torch.zeros(2, device=be.device), torch.zeros(2, device=be.device)
    with pytest.raises(ValueError, match="threshold"):
        ops.anisotropic_update_(x, g, 0.1, 1.0, threshold, 0, 0)


def test_bad_tensors_raise(be):
    def zeros(*shape, dtype=torch.float32):
        return torch.zeros(*shape, dtype=dtype, device=be.device)

    x = zeros(4, 6)
    with pytest.raises(ValueError, match="x must be contiguous"):
        ops.langevin_update_(x.t(), zeros(6, 4), 0.1, 1.0, 0, 0)
    with pytest.raises(ValueError, match="grad must be contiguous"):
        ops.langevin_update_(zeros(6, 4), x.t(), 0.1, 1.0, 0, 0)
    with pytest.raises(ValueError, match="grad has shape"):
        ops.langevin_update_(x, zeros(4, 5), 0.1, 1.0, 0, 0)
    with pytest.raises(ValueError, match="grad has dtype"):
        ops.langevin_update_(x, zeros(4, 6, dtype=torch.float64), 0.1, 1.0, 0, 0)
    with pytest.raises(ValueError, match="grad is on"):
        other = "cpu" if be.device == "cuda" else "meta"
        ops.langevin_update_(x, torch.zeros(4, 6, device=other), 0.1, 1.0, 0, 0)
    with pytest.raises(ValueError, match="x has dtype"):
        ints = zeros(3, dtype=torch.int64)
        ops.langevin_update_(ints, ints.clone(), 0.1, 1.0, 0, 0)
    with pytest.raises(ValueError, match="grad must be a torch.Tensor"):
        ops.langevin_update_(x, None, 0.1, 1.0, 0, 0)
    with pytest.raises(ValueError, match="x must be contiguous"):
        ops.mala_propose(x.t(), zeros(6, 4), 0.1, 1.0, 0, 0)
    with pytest.raises(ValueError, match="grad has shape"):
        ops.anisotropic_update_(x, zeros(24), 0.1, 1.0, 1.0, 0, 0)
    with pytest.raises(ValueError, match="batch dim"):
        ops.mala_propose(zeros(()), zeros(()), 0.1, 1.0, 0, 0)
    with pytest.raises(ValueError, match="dtype"):
        ops.philox_normal((3,), 0, 0, device=be.device, dtype=torch.int32)
    with pytest.raises(ValueError, match="shape"):
        ops.philox_normal((3, -1), 0, 0, device=be.device)


def test_env_switch(monkeypatch):
    monkeypatch.setenv(_build.ENV_VAR, "torch")
    assert ops.backend("cpu") == "torch"
    monkeypatch.setenv(_build.ENV_VAR, "cuda")
    with pytest.raises(RuntimeError, match="cuda"):
        ops.langevin_update_(torch.zeros(3), torch.zeros(3), 0.1, 1.0, 0, 0)
    monkeypatch.setenv(_build.ENV_VAR, "fortran")
    with pytest.raises(ValueError, match="LATENT_EBM_OPS"):
        ops.backend("cpu")


def test_failed_build_falls_back_with_one_warning(monkeypatch):
    def broken():
        raise OSError("no compiler here")

    monkeypatch.setattr(_build, "_load_cpp_cached", broken)
    monkeypatch.setattr(_build, "_FAILURES", {})
    monkeypatch.delenv(_build.ENV_VAR, raising=False)
    with pytest.warns(RuntimeWarning, match="no compiler here"):
        assert ops.backend("cpu") == "torch"
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")
        x = torch.zeros(3)
        ops.langevin_update_(x, torch.zeros(3), 0.1, 1.0, 0, 0)  # reference, no second warning
    monkeypatch.setenv(_build.ENV_VAR, "cpp")
    with pytest.raises(RuntimeError, match="no compiler here"):
        ops.backend("cpu")
