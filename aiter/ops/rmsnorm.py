"""RMSNorm ops with upstream aiter's names, argument order and return
conventions. Every tensor argument may be any strided view whose last dim has
stride 1 (read in place); other views are gathered and counted.

Argument checks run once, in the C++ launcher (csrc/host/), for these
functions and for direct ``torch.ops.aiter`` callers alike. How a call
reaches the launcher (the eager entry, or the registered op where the
dispatcher must see it) is in _route.py.
"""


from torch import Tensor

from ._route import allocator, writer

_rms_norm = allocator("rms_norm", "rmsnorm")
_rmsnorm2d_fwd = allocator("rmsnorm2d_fwd", "rmsnorm")
_rmsnorm2d_fwd_with_add = writer("rmsnorm2d_fwd_with_add", "add_rmsnorm")
_rms_norm_cu = writer("rms_norm_cu", "rmsnorm")
_fused_add_rms_norm_cu = writer("fused_add_rms_norm_cu", "fused_add_rmsnorm_", {"residual": "residual_in"})
_rmsnorm = writer("rmsnorm", "rmsnorm")
_add_rmsnorm = writer("add_rmsnorm", "add_rmsnorm")


def rms_norm(input: Tensor, weight: Tensor, epsilon: float, use_model_sensitive_rmsnorm: int = 0) -> Tensor:
    return _rms_norm(input, weight, epsilon, False, use_model_sensitive_rmsnorm)


def rmsnorm2d_fwd(input: Tensor, weight: Tensor, epsilon: float, use_model_sensitive_rmsnorm: int = 0) -> Tensor:
    return _rmsnorm2d_fwd(input, weight, epsilon, False, use_model_sensitive_rmsnorm)


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
    _rmsnorm2d_fwd_with_add(out, input, residual_in, residual_out, weight, epsilon, gemma_norm,
                            use_model_sensitive_rmsnorm)


def rms_norm_cu(out: Tensor, input: Tensor, weight: Tensor, epsilon: float) -> None:
    _rms_norm_cu(out, input, weight, epsilon, False, 0)


def fused_add_rms_norm_cu(input: Tensor, residual_in: Tensor, weight: Tensor, epsilon: float) -> None:
    """In place: residual_in <- input + residual_in; input <- rmsnorm(residual_in) * weight."""
    _fused_add_rms_norm_cu(input, residual_in, weight, epsilon, False, 0)


def rmsnorm(out: Tensor, input: Tensor, weight: Tensor, epsilon: float, gemma_norm: bool = False) -> None:
    _rmsnorm(out, input, weight, epsilon, gemma_norm, 0)


def add_rmsnorm(
    out: Tensor,
    input: Tensor,
    residual_in: Tensor,
    residual_out: Tensor,
    weight: Tensor,
    epsilon: float,
    gemma_norm: bool = False,
) -> None:
    _add_rmsnorm(out, input, residual_in, residual_out, weight, epsilon, gemma_norm, 0)


# Upstream keeps the quantised RMSNorm and the *_opus entry points in this
# module too: importing them from here works as it does there.
from .opus import *  # noqa: E402,F401,F403
from .opus import __all__ as _opus_names  # noqa: E402
from .quant import *  # noqa: E402,F401,F403
from .quant import __all__ as _quant_names  # noqa: E402

__all__ = _opus_names + _quant_names + [
    "rms_norm",
    "rmsnorm2d_fwd",
    "rmsnorm2d_fwd_with_add",
    "rms_norm_cu",
    "fused_add_rms_norm_cu",
    "rmsnorm",
    "add_rmsnorm",
]
