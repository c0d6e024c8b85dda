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


def _call(public, internal, fn, *args, arg_names=None):
    """Calls a registered op, naming the public op (and the public argument
    names, where they differ) in its errors."""
    try:
        fn(*args)
    except _ERRORS as e:
        exc = _renamed(e, internal, public)
        if arg_names:
            msg = str(exc)
            for ours, theirs in arg_names.items():
                msg = msg.replace(f"'{ours}'", f"'{theirs}'")
            exc = type(exc)(msg)
        raise exc from None


def _empty_out(input, public: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"aiter.{public}: argument 'input' must be a Tensor, got {type(input).__name__}")
    if input.layout != torch.strided:
        raise ValueError(
            f"aiter.{public}: argument 'input' must be a strided (dense) tensor, got layout {input.layout} "
            f"(Sparse and other layouts are not read; shape {list(input.shape)}, dtype {input.dtype})"
        )
    if input.dim() == 0:
        raise ValueError(
            f"aiter.{public}: argument 'input' must have at least one dim (the normalised one), "
            f"got a 0-d tensor (dtype {input.dtype}, device {input.device})"
        )
    # Allocated outputs are contiguous with the input's shape (empty_like is
    # the cheapest allocation call from Python).
    return torch.empty_like(input, memory_format=torch.contiguous_format)


def _rms_norm_to_new(public: str, input, weight, epsilon, use_model_sensitive_rmsnorm) -> Tensor:
    if not _compiling():
        y = _eager_norm(f"aiter.{public}", _NORM_NEW, None, input, None, None, weight, epsilon, 0,
                        use_model_sensitive_rmsnorm)
        if y is not NotImplemented:
            return y
    out = _empty_out(input, public)
    _call(public, "rmsnorm", _rmsnorm, out, input, weight, epsilon, False, use_model_sensitive_rmsnorm)
    return out


def _norm_into(public, kind, out, input, residual_in, residual_out, weight, epsilon, gemma_norm, model_sensitive,
               internal, fn, *op_args):
    """Writes into caller buffers: the eager path (aiter._C.eager_norm), or
    the registered op ``fn(*op_args)`` where the dispatcher must see the call."""
    if not _compiling() and _eager_norm(f"aiter.{public}", kind, out, input, residual_in, residual_out, weight,
                                        epsilon, gemma_norm, model_sensitive) is not NotImplemented:
        return
    _call(public, internal, fn, *op_args)


def rms_norm(input: Tensor, weight: Tensor, epsilon: float, use_model_sensitive_rmsnorm: int = 0) -> Tensor:
    return _rms_norm_to_new("rms_norm", input, weight, epsilon, use_model_sensitive_rmsnorm)


def rmsnorm2d_fwd(input: Tensor, weight: Tensor, epsilon: float, use_model_sensitive_rmsnorm: int = 0) -> Tensor:
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
    _norm_into("rmsnorm2d_fwd_with_add", _ADD, out, input, residual_in, residual_out, weight, epsilon, gemma_norm,
               use_model_sensitive_rmsnorm, "add_rmsnorm", _add_rmsnorm,
               out, input, residual_in, residual_out, weight, epsilon, bool(gemma_norm), use_model_sensitive_rmsnorm)


def rms_norm_cu(out: Tensor, input: Tensor, weight: Tensor, epsilon: float) -> None:
    _norm_into("rms_norm_cu", _NORM_INTO, out, input, None, None, weight, epsilon, 0, 0,
               "rmsnorm", _rmsnorm, out, input, weight, epsilon, False, 0)


def fused_add_rms_norm_cu(input: Tensor, residual_in: Tensor, weight: Tensor, epsilon: float) -> None:
    """In place: residual_in <- input + residual_in; input <- rmsnorm(residual_in) * weight."""
    _norm_into("fused_add_rms_norm_cu", _ADD, input, input, residual_in, residual_in, weight, epsilon, 0, 0,
               "fused_add_rms_norm_cu", _fused_add_rmsnorm_, input, residual_in, weight, epsilon, False, 0)


def rmsnorm(out: Tensor, input: Tensor, weight: Tensor, epsilon: float, gemma_norm: bool = False) -> None:
    _norm_into("rmsnorm", _NORM_INTO, out, input, None, None, weight, epsilon, gemma_norm, 0,
               "rmsnorm", _rmsnorm, out, input, weight, epsilon, bool(gemma_norm), 0)


def add_rmsnorm(
    out: Tensor,
    input: Tensor,
    residual_in: Tensor,
    residual_out: Tensor,
    weight: Tensor,
    epsilon: float,
    gemma_norm: bool = False,
) -> None:
    _norm_into("add_rmsnorm", _ADD, out, input, residual_in, residual_out, weight, epsilon, gemma_norm, 0,
               "add_rmsnorm", _add_rmsnorm, out, input, residual_in, residual_out, weight, epsilon,
               bool(gemma_norm), 0)


__all__ = [
    "rms_norm",
    "rmsnorm2d_fwd",
    "rmsnorm2d_fwd_with_add",
    "rms_norm_cu",
    "fused_add_rms_norm_cu",
    "rmsnorm",
    "add_rmsnorm",
]

