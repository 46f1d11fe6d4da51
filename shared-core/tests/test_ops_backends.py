"""Compiled kernels (cpp, cuda) against the torch reference and each other, the build cache,
torch.compile of the custom ops and of the sampler itself.

The Philox known answers, noise statistics and bad-input checks per backend are in test_ops.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from test_ops import BACKENDS, load_backend  # same folder (pytest puts it on sys.path)

from latent_ebm.core import ops
from latent_ebm.core.ops import _build, _reference
from latent_ebm.core.samplers import langevin


@pytest.fixture(scope="module")
def cpp():
    mod = _build.load_cpp()
    if mod is None:
        pytest.skip(f"cpp kernels unavailable: {_build._FAILURES.get('cpp')}")
    return mod


def _devices_and_kernels():
    params = [pytest.param("cpu", id="cpp")]
    params.append(
        pytest.param(
            "cuda",
            id="cuda",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
            ],
        )
    )
    return params


def _kernels(device):
    mod = _build.load_cpp() if device == "cpu" else _build.load_cuda()
    if mod is None:
        pytest.skip(f"{device} kernels unavailable: {_build._FAILURES}")
    return mod


def _close(a, b, dtype):
    # float32: a few ulp (the transcendental polynomials differ from torch's by ~1 ulp);
    # half types: one rounding step of the final cast
    if dtype in (torch.bfloat16, torch.float16):
        torch.testing.assert_close(a.float(), b.float(), rtol=1e-2, atol=1e-2)
    else:
        torch.testing.assert_close(a, b, rtol=2e-6, atol=2e-6)


SIZES = [1, 3, 1_000_003]
DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.float64]


@pytest.mark.parametrize("device", _devices_and_kernels())
@pytest.mark.parametrize("n", SIZES)
def test_noise_matches_reference(device, n):
    k = _kernels(device)
    seed, offset = 0xDEADBEEFCAFE, (3 << 32) + 17
    a = torch.empty(n, device=device)
    k.philox_normal_(a, seed, offset)
    b = _reference.philox_normal((n,), seed, offset, device, torch.float32)
    torch.testing.assert_close(a, b, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("device", _devices_and_kernels())
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_ula_and_anisotropic_match_reference(device, dtype, n):
    k = _kernels(device)
    gen = torch.Generator().manual_seed(n)
    x = torch.randn(n, generator=gen).to(device=device, dtype=dtype)
    g = (2 * torch.randn(n, generator=gen)).to(device=device, dtype=dtype)
    x1, x2 = x.clone(), x.clone()
    k.langevin_update_(x1, g, 0.005, 0.1, 5, 9)
    _reference.langevin_update_(x2, g, 0.005, 0.1, 5, 9)
    _close(x1, x2, dtype)
    y1, y2 = x.clone(), x.clone()
    k.anisotropic_update_(y1, g, 0.04 * 1.5, 0.8, 1.5, -7, 1)  # seed -7: the int64 of 2**64 - 7
    _reference.anisotropic_update_(y2, g, 0.04 * 1.5, 0.8, 1.5, -7, 1)
    _close(y1, y2, dtype)


@pytest.mark.parametrize("device", _devices_and_kernels())
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (3, 1), (2, 3, 5), (7, 142_858), (1, 1_000_003)])
def test_mala_matches_reference(device, dtype, shape):
    k = _kernels(device)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=gen).to(device=device, dtype=dtype)
    g = torch.randn(shape, generator=gen).to(device=device, dtype=dtype)
    p1, l1 = k.mala_propose(x, g, 0.02, 0.2, 3, 4)
    p2, l2 = _reference.mala_propose(x, g, 0.02, 0.2, 3, 4)
    _close(p1, p2, dtype)
    assert l1.dtype == l2.dtype and l1.shape == (shape[0],)
    torch.testing.assert_close(l1, l2, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_cuda_matches_cpp(cpp, dtype, n):
    """Same seed and offset: the same noise, ULA, anisotropic and MALA results on GPU and CPU
    (to float32 rounding: nvcc contracts a*b+c into FMAs, the CPU build does not)."""
    cuda = _kernels("cuda")
    gen = torch.Generator().manual_seed(n + 1)
    x = torch.randn(n, generator=gen).to(dtype)
    g = (2 * torch.randn(n, generator=gen)).to(dtype)
    xc, gc = x.cuda(), g.cuda()
    seed, offset = (1 << 63) + 12345, (5 << 32) + 2
    s_seed, s_offset = seed - (1 << 64), offset  # the kernels take the int64 of the same bits

    a = torch.empty(n)
    cpp.philox_normal_(a, s_seed, s_offset)
    b = torch.empty(n, device="cuda")
    cuda.philox_normal_(b, s_seed, s_offset)
    _close(b.cpu(), a, torch.float32)

    _close(cuda.langevin_update_(xc.clone(), gc, 0.02, 0.3, s_seed, s_offset).cpu(),
           cpp.langevin_update_(x.clone(), g, 0.02, 0.3, s_seed, s_offset), dtype)
    _close(cuda.anisotropic_update_(xc.clone(), gc, 0.04, 0.8, 1.5, s_seed, s_offset).cpu(),
           cpp.anisotropic_update_(x.clone(), g, 0.04, 0.8, 1.5, s_seed, s_offset), dtype)
    shape = (1, n) if n > 3 else (n, 1)
    p1, l1 = cuda.mala_propose(xc.view(shape), gc.view(shape), 0.02, 0.3, s_seed, s_offset)
    p2, l2 = cpp.mala_propose(x.view(shape), g.view(shape), 0.02, 0.3, s_seed, s_offset)
    _close(p1.cpu(), p2, dtype)
    torch.testing.assert_close(l1.cpu(), l2, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", ["ula", "anisotropic", "mala"])
def test_sampler_chain_replays_across_cuda_and_cpp(cpp, method, monkeypatch):
    """The public sampler with one int seed: the same chain on GPU and on CPU."""
    _kernels("cuda")
    monkeypatch.delenv(_build.ENV_VAR, raising=False)
    x0 = torch.randn(64, 7, generator=torch.Generator().manual_seed(0))
    out = {dev: langevin(_quartic, x0.to(dev), 10, 0.1, method=method, generator=11).cpu()
           for dev in ("cpu", "cuda")}
    torch.testing.assert_close(out["cuda"], out["cpu"], rtol=1e-4, atol=1e-4)


def test_public_ops_use_cpp_and_match_forced_torch(cpp, monkeypatch):
    monkeypatch.delenv(_build.ENV_VAR, raising=False)
    assert ops.backend("cpu") == "cpp"
    x = torch.randn(64, 33)
    g = torch.randn(64, 33)
    a = ops.langevin_update_(x.clone(), g, 0.1, 1.0, 12, 3)
    monkeypatch.setenv(_build.ENV_VAR, "torch")
    b = ops.langevin_update_(x.clone(), g, 0.1, 1.0, 12, 3)
    torch.testing.assert_close(a, b, rtol=2e-6, atol=2e-6)


def test_result_independent_of_thread_count(cpp):
    x = torch.randn(300_001)
    g = torch.randn(300_001)
    prev = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = cpp.langevin_update_(x.clone(), g, 0.1, 1.0, 1, 1)
        torch.set_num_threads(2)
        b = cpp.langevin_update_(x.clone(), g, 0.1, 1.0, 1, 1)
    finally:
        torch.set_num_threads(prev)
    assert torch.equal(a, b)


def test_build_happens_once_per_process_and_is_reused_across_processes(cpp):
    assert _build.load_cpp() is cpp
    assert _build.BUILD_COUNT["cpp"] == 1
    # a second process loads the cached library: the .so on disk is not rebuilt
    from torch.utils import cpp_extension

    name = cpp.__name__
    so = [
        p
        for p in os.scandir(cpp_extension._get_build_directory(name, False))
        if p.name.endswith(".so")
    ]
    assert len(so) == 1
    mtime = so[0].stat().st_mtime_ns
    code = (
        "from latent_ebm.core.ops import _build; m = _build.load_cpp(required=True); "
        f"assert m.__name__ == {name!r}"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        timeout=300,
        env=os.environ | {"OMP_NUM_THREADS": "1"},
    )
    assert os.stat(so[0].path).st_mtime_ns == mtime


def _chain(x, seed, start):
    x = x.clone()
    for i in range(3):
        ops.langevin_update_(x, 2 * x, 0.1, 1.0, seed, start + i)
    ops.anisotropic_update_(x, 2 * x, 0.1, 1.0, 0.5, seed, start + 3)
    prop, log_q = ops.mala_propose(x, 2 * x, 0.1, 1.0, seed, start + 4)
    return x, prop, log_q, ops.philox_normal(x.shape, seed, start)


# torch.compile: on cpp where it builds, and on the torch reference always (forced), so the
# custom ops' fake implementations are exercised even on a machine without a compiler.
CPU_BACKENDS = [p for p in BACKENDS if p.values[0] != "cuda"]


@pytest.fixture(params=CPU_BACKENDS)
def cpu_backend(request, monkeypatch):
    backend = load_backend(request.param)
    monkeypatch.setenv(_build.ENV_VAR, backend.name)
    return backend


def test_torch_compile_traces_the_custom_ops(cpu_backend):
    x = torch.randn(4, 8)
    compiled = torch.compile(_chain, backend="aot_eager", fullgraph=True)
    for start in (0, 5):
        for a, b in zip(compiled(x, 3, start), _chain(x, 3, start)):
            assert torch.equal(a, b)


def _quartic(x):
    return 0.5 * x.square().sum(dim=1) + 0.25 * x[:, 0] ** 4


def test_torch_compile_of_the_sampler(cpu_backend):
    """``torch.compile(langevin)`` itself: graph breaks (autograd.grad, the final divergence
    check) are allowed, but the fused updates must be captured as the custom ops and the chain
    must equal the eager one bit for bit, for every method."""
    graphs = []

    def record(gm, example_inputs):
        graphs.append(gm.code)
        return gm.forward

    compiled = torch.compile(langevin, backend=record)
    x0 = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
    for method in ("ula", "anisotropic", "mala"):
        graphs.clear()
        a = compiled(_quartic, x0, 4, 0.1, method=method, generator=3)
        b = langevin(_quartic, x0, 4, 0.1, method=method, generator=3)
        assert torch.equal(a, b), method
        ops_of = {"ula": "langevin_update_", "anisotropic": "anisotropic_update_"}
        op = ops_of.get(method, "mala_propose")
        if graphs:  # a cached graph from the previous backend's run is not recompiled
            assert any(f"torch.ops.latent_ebm.{op}" in g for g in graphs), (method, graphs)


@pytest.mark.slow
def test_torch_compile_inductor(cpu_backend):
    x = torch.randn(4, 8)
    compiled = torch.compile(_chain, fullgraph=False)
    for a, b in zip(compiled(x, 3, 0), _chain(x, 3, 0)):
        torch.testing.assert_close(a, b)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", ["ula", "anisotropic", "mala"])
def test_torch_compile_of_the_sampler_on_cuda(method, monkeypatch):
    """``torch.compile(langevin)`` with inductor on the GPU equals the eager chain (scripts/gpu-check.sh)."""
    monkeypatch.setenv(_build.ENV_VAR, "cuda")
    x0 = torch.randn(64, 5, generator=torch.Generator().manual_seed(0)).cuda()
    compiled = torch.compile(langevin)
    a = compiled(_quartic, x0, 4, 0.1, method=method, generator=3)
    b = langevin(_quartic, x0, 4, 0.1, method=method, generator=3)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
