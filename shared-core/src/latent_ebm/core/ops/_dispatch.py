"""Which implementation serves a device, and the ``torch.library`` custom ops around them.

The custom ops (namespace ``latent_ebm``) let ``torch.compile`` trace a sampler loop: each has a
fake implementation giving output shapes, and the in-place ones declare ``mutates_args``.
Outside compilation the public functions call the implementation directly (no dispatcher cost).
"""

from __future__ import annotations

from types import ModuleType

import torch
from torch import Tensor

from . import _build, _reference

__all__ = ["backend_name", "kernels"]


def kernels(device: torch.device) -> ModuleType:
    """The module implementing the ops for tensors on ``device`` (compiled if possible)."""
    forced = _build.forced_backend()
    if forced == "torch":
        return _reference
    if device.type == "cuda":
        if forced == "cpp":
            raise RuntimeError(
                f"{_build.ENV_VAR}=cpp but the tensors are on {device}; the cpp kernels run on CPU only"
            )
        return _build.load_cuda(required=forced == "cuda") or _reference
    if forced == "cuda":
        raise RuntimeError(
            f"{_build.ENV_VAR}=cuda but the tensors are on {device}; the cuda kernels need CUDA tensors"
        )
    if device.type == "cpu":
        return _build.load_cpp(required=forced == "cpp") or _reference
    if forced == "cpp":
        raise RuntimeError(f"{_build.ENV_VAR}=cpp but the tensors are on {device}")
    return _reference


def backend_name(device: torch.device) -> str:
    mod = kernels(device)
    if mod is _reference:
        return "torch"
    return "cuda" if device.type == "cuda" else "cpp"


# ---- custom ops: same arguments as the implementations, seeds as signed int64 ----


@torch.library.custom_op("latent_ebm::langevin_update_", mutates_args=("x",))
def langevin_update_op(x: Tensor, grad: Tensor, a: float, b: float, seed: int, offset: int) -> None:
    kernels(x.device).langevin_update_(x, grad, a, b, seed, offset)


@langevin_update_op.register_fake
def _(x, grad, a, b, seed, offset):
    return None


@torch.library.custom_op("latent_ebm::anisotropic_update_", mutates_args=("x",))
def anisotropic_update_op(
    x: Tensor,
    grad: Tensor,
    ss_thr: float,
    noise_scale: float,
    threshold: float,
    seed: int,
    offset: int,
) -> None:
    kernels(x.device).anisotropic_update_(x, grad, ss_thr, noise_scale, threshold, seed, offset)


@anisotropic_update_op.register_fake
def _(x, grad, ss_thr, noise_scale, threshold, seed, offset):
    return None


@torch.library.custom_op("latent_ebm::mala_propose", mutates_args=())
def mala_propose_op(
    x: Tensor, grad: Tensor, a: float, b: float, seed: int, offset: int
) -> tuple[Tensor, Tensor]:
    return tuple(kernels(x.device).mala_propose(x, grad, a, b, seed, offset))


@mala_propose_op.register_fake
def _(x, grad, a, b, seed, offset):
    mt = torch.float64 if x.dtype == torch.float64 else torch.float32
    return torch.empty_like(x), x.new_empty((x.shape[0],), dtype=mt)


@torch.library.custom_op("latent_ebm::philox_normal_", mutates_args=("out",))
def philox_normal_op(out: Tensor, seed: int, offset: int) -> None:
    kernels(out.device).philox_normal_(out, seed, offset)


@philox_normal_op.register_fake
def _(out, seed, offset):
    return None
