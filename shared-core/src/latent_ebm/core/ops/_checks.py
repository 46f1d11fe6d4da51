"""Argument checks of the public ops: the core's validator (:mod:`latent_ebm.core.checks`), plus
what the kernels need beyond it (tensor pairs, 64-bit seeds, symbolic values under torch.compile)."""

from __future__ import annotations

import torch
from torch import Tensor

from latent_ebm.core.checks import check_real

__all__ = [
    "SUPPORTED_DTYPES",
    "check_nonneg",
    "check_pair",
    "check_positive",
    "check_seed",
    "to_int64",
]

SUPPORTED_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
_U64 = 1 << 64


def _symbolic(value: object) -> bool:
    return isinstance(value, torch.SymInt | torch.SymFloat)


def check_pair(x: object, grad: object) -> None:
    """x and grad: contiguous tensors of one supported dtype, one shape and one device."""
    if not isinstance(x, Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not isinstance(grad, Tensor):
        raise ValueError(f"grad must be a torch.Tensor, got {type(grad).__name__}")
    if x.dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"x has dtype {x.dtype}; allowed: float32, float64, bfloat16, float16")
    if grad.dtype != x.dtype:
        raise ValueError(f"grad has dtype {grad.dtype}; it must match x's dtype {x.dtype}")
    if grad.shape != x.shape:
        raise ValueError(
            f"grad has shape {tuple(grad.shape)}; it must match x's shape {tuple(x.shape)}"
        )
    if grad.device != x.device:
        raise ValueError(f"grad is on {grad.device}; it must be on x's device {x.device}")
    if not x.is_contiguous():
        raise ValueError(
            f"x must be contiguous (got strides {x.stride()}); call .contiguous() first"
        )
    if not grad.is_contiguous():
        raise ValueError(
            f"grad must be contiguous (got strides {grad.stride()}); call .contiguous() first"
        )


def _check_real(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(
        value, int | float | torch.SymFloat | torch.SymInt
    ):
        raise ValueError(f"{name} must be a Python float, got {type(value).__name__} {value!r}")


def check_nonneg(name: str, value: object) -> None:
    """A finite real number >= 0 (symbolic under torch.compile: checked when concrete)."""
    _check_real(name, value)
    if not _symbolic(value):
        check_real(name, value, low=0.0)


def check_positive(name: str, value: object) -> None:
    """A finite real number > 0 (symbolic under torch.compile: checked when concrete)."""
    _check_real(name, value)
    if not _symbolic(value):
        check_real(name, value, low=0.0, low_open=True)


def check_seed(name: str, value: object) -> None:
    """An integer in [0, 2**64)."""
    if isinstance(value, bool) or not isinstance(value, int | torch.SymInt):
        raise ValueError(
            f"{name} must be a Python int in [0, 2**64), got {type(value).__name__} {value!r}"
        )
    if not _symbolic(value) and not 0 <= value < _U64:
        raise ValueError(f"{name}={value} is out of range; allowed: 0 <= {name} < 2**64")


def to_int64(value: int) -> int:
    """The signed int64 with the same 64 bits as the uint64 ``value`` (for op schemas)."""
    if _symbolic(value):
        return value
    return value - _U64 if value >= (1 << 63) else value
