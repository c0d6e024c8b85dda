"""RMSNorm ops with upstream aiter's names, argument order and return
conventions. Every tensor argument may be any strided view whose last dim has
stride 1 (read in place); other views are gathered and counted.

Argument checks run once, in the C++ launcher (csrc/host/), for these
functions and for direct ``torch.ops.aiter`` callers alike. In plain eager
code each function goes straight to the launcher through ``_C.eager_norm``
(no dispatcher, about a microsecond of host time); while tracing
(torch.compile), under dispatch modes or with tensor subclasses it calls the
registered ``torch.ops.aiter`` op instead, and names the public op in errors.
"""


import torch
from torch import Tensor

from .._backend import _C, ops

_eager_norm = _C.eager_norm
_NORM_INTO, _NORM_NEW, _ADD = 0, 1, 2  # eager_norm's kinds (csrc/eager_bindings.cpp)
_compiling = torch.compiler.is_compiling

_rmsnorm = ops.rmsnorm.default
_add_rmsnorm = ops.add_rmsnorm.default
_fused_add_rmsnorm_ = ops.fused_add_rmsnorm_.default
_ERRORS = (RuntimeError, ValueError, TypeError)


def _renamed(exc: Exception, internal: str, public: str) -> Exception:
    """The same exception, naming the public op the caller used."""
    msg = str(exc).replace(f"aiter.{internal}:", f"aiter.{public}:", 1)
    if not msg.startswith("aiter."):
        msg = f"aiter.{public}: {msg}"
    return type(exc)(msg)


def _empty_out(input, public: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"aiter.{public}: argument 'input' must be a Tensor, got {type(input).__name__}")
    if input.dim() == 0:
        raise ValueError(
            f"aiter.{public}: argument 'input' must have at least one dim (the normalised one), "
            f"got a 0-d tensor (dtype {input.dtype}, device {input.device})"
        )
    # Allocated outputs are contiguous with the input's shape (empty_like is
    # the cheapest allocation call from Python).
    return torch.empty_like(input, memory_format=torch.contiguous_format)


def _rms_norm_to_new(public: str, input, weight, epsilon, use_model_sensitive_rmsnorm) -> Tensor:
    out = _empty_out(input, public)
    try:
        _rmsnorm(out, input, weight, epsilon, False, use_model_sensitive_rmsnorm)
    except _ERRORS as e:
        raise _renamed(e, "rmsnorm", public) from None
    return out


def rms_norm(input: Tensor, weight: Tensor, epsilon: float, use_model_sensitive_rmsnorm: int = 0) -> Tensor:
    if not _compiling():
        y = _eager_norm("aiter.rms_norm", _NORM_NEW, None, input, None, None, weight, epsilon, 0, use_model_sensitive_rmsnorm)
        if y is not NotImplemented:
            return y
    return _rms_norm_to_new("rms_norm", input, weight, epsilon, use_model_sensitive_rmsnorm)


def rmsnorm2d_fwd(input: Tensor, weight: Tensor, epsilon: float, use_model_sensitive_rmsnorm: int = 0) -> Tensor:
    if not _compiling():
        y = _eager_norm(
            "aiter.rmsnorm2d_fwd", _NORM_NEW, None, input, None, None, weight, epsilon, 0, use_model_sensitive_rmsnorm
        )
        if y is not NotImplemented:
            return y
    return _rms_norm_to_new("rmsnorm2d_fwd", input, weight, epsilon, use_model_sensitive_rmsnorm)


def rmsnorm2d_fwd_with_add(
    out: Tensor,
    input: Tensor,
    residual_in: Tensor,
    residual_out: Tensor,
    weight: Tensor,
    epsilon: float,
    gemma_norm: bool = False,
    use_model_sensitive_rmsnorm: int = 0,
) -> None:
    """residual_out = input + residual_in; out = rmsnorm(residual_out) * weight."""
    if type(gemma_norm) is int and use_model_sensitive_rmsnorm == 0:
        # v0.1.12 took use_model_sensitive_rmsnorm as the 7th argument; a plain
        # int there (not a bool) is such a caller.
        gemma_norm, use_model_sensitive_rmsnorm = False, gemma_norm
    if not _compiling() and _eager_norm(
        "aiter.rmsnorm2d_fwd_with_add", _ADD, out, input, residual_in, residual_out, weight, epsilon,
        gemma_norm, use_model_sensitive_rmsnorm,
    ) is not NotImplemented:
        return
    try:
        _add_rmsnorm(out, input, residual_in, residual_out, weight, epsilon, bool(gemma_norm), use_model_sensitive_rmsnorm)
    except _ERRORS as e:
        raise _renamed(e, "add_rmsnorm", "rmsnorm2d_fwd_with_add") from None


def rms_norm_cu(out: Tensor, input: Tensor, weight: Tensor, epsilon: float) -> None:
    if not _compiling() and _eager_norm(
        "aiter.rms_norm_cu", _NORM_INTO, out, input, None, None, weight, epsilon, 0, 0
    ) is not NotImplemented:
        return
    try:
        _rmsnorm(out, input, weight, epsilon, False, 0)
    except _ERRORS as e:
        raise _renamed(e, "rmsnorm", "rms_norm_cu") from None


def fused_add_rms_norm_cu(input: Tensor, residual_in: Tensor, weight: Tensor, epsilon: float) -> None:
    """In place: residual_in <- input + residual_in; input <- rmsnorm(residual_in) * weight."""
    if not _compiling() and _eager_norm(
        "aiter.fused_add_rms_norm_cu", _ADD, input, input, residual_in, residual_in, weight, epsilon, 0, 0
    ) is not NotImplemented:
        return
    try:
        _fused_add_rmsnorm_(input, residual_in, weight, epsilon, False, 0)
    except _ERRORS as e:
        raise _renamed(e, "fused_add_rms_norm_cu", "fused_add_rms_norm_cu") from None


def rmsnorm(out: Tensor, input: Tensor, weight: Tensor, epsilon: float, gemma_norm: bool = False) -> None:
    if not _compiling() and _eager_norm(
        "aiter.rmsnorm", _NORM_INTO, out, input, None, None, weight, epsilon, gemma_norm, 0
    ) is not NotImplemented:
        return
    try:
        _rmsnorm(out, input, weight, epsilon, bool(gemma_norm), 0)
    except _ERRORS as e:
        raise _renamed(e, "rmsnorm", "rmsnorm") from None


def add_rmsnorm(
    out: Tensor,
    input: Tensor,
    residual_in: Tensor,
    residual_out: Tensor,
    weight: Tensor,
    epsilon: float,
    gemma_norm: bool = False,
) -> None:
    if not _compiling() and _eager_norm(
        "aiter.add_rmsnorm", _ADD, out, input, residual_in, residual_out, weight, epsilon, gemma_norm, 0
    ) is not NotImplemented:
        return
    try:
        _add_rmsnorm(out, input, residual_in, residual_out, weight, epsilon, bool(gemma_norm), 0)
    except _ERRORS as e:
        raise _renamed(e, "add_rmsnorm", "add_rmsnorm") from None


__all__ = [
    "rms_norm",
    "rmsnorm2d_fwd",
    "rmsnorm2d_fwd_with_add",
    "rms_norm_cu",
    "fused_add_rms_norm_cu",
    "rmsnorm",
    "add_rmsnorm",
]

