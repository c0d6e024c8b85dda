"""Upstream aiter's ``*_opus`` RMSNorm entry points (newer upstream routes
``rms_norm`` to them), with upstream's argument names, order, defaults and
return conventions. Here they run the same registered ops, launcher and
kernels as their counterparts, so each gives the same result:

    rms_norm_opus(out, ...)                    = rmsnorm(out, ...)         (model_sensitive, then gemma_norm)
    fused_add_rms_norm_opus(input, residual, ...) = fused_add_rms_norm_cu  (in place)
    rmsnorm2d_fwd_opus                         = rmsnorm2d_fwd
    rmsnorm2d_fwd_with_add_opus                = rmsnorm2d_fwd_with_add    (use_model_sensitive_rmsnorm, then gemma_norm)
    rmsnorm2d_fwd_with_[add_]{dynamic,smooth}quant_opus = the same names without _opus

Upstream's opus wrappers require contiguous tensors (a 2-D row-strided
input at most); here every tensor may be any view whose last dim has
stride 1, like every other op.
"""
from typing import Optional

from torch import Tensor

from ._route import allocator, none_error, writer

_MODEL_SENSITIVE = {"use_model_sensitive_rmsnorm": "model_sensitive"}  # the two opus ops that call it so
_rms_norm_opus = writer("rms_norm_opus", "rmsnorm", _MODEL_SENSITIVE)
_fused_add_rms_norm_opus = writer("fused_add_rms_norm_opus", "fused_add_rmsnorm_",
                                  {"residual_in": "residual", "residual_out": "residual", **_MODEL_SENSITIVE})
_rmsnorm2d_fwd_opus = allocator("rmsnorm2d_fwd_opus", "rmsnorm")
_with_add_opus = writer("rmsnorm2d_fwd_with_add_opus", "add_rmsnorm")
_dynamicquant_opus = writer("rmsnorm2d_fwd_with_dynamicquant_opus", "rmsnorm_quant")
_smoothquant_opus = writer("rmsnorm2d_fwd_with_smoothquant_opus", "rmsnorm_quant")
_add_dynamicquant_opus = writer("rmsnorm2d_fwd_with_add_dynamicquant_opus", "add_rmsnorm_quant")
_add_smoothquant_opus = writer("rmsnorm2d_fwd_with_add_smoothquant_opus", "add_rmsnorm_quant")


def rms_norm_opus(
    out: Tensor, input: Tensor, weight: Tensor, epsilon: float, model_sensitive: int = 0, gemma_norm: bool = False
) -> None:
    """out = rmsnorm(input) * weight (1 + weight with gemma_norm)."""
    _rms_norm_opus(out, input, weight, epsilon, gemma_norm, model_sensitive)


def fused_add_rms_norm_opus(
    input: Tensor, residual: Tensor, weight: Tensor, epsilon: float, model_sensitive: int = 0,
    gemma_norm: bool = False,
) -> None:
    """In place: residual <- input + residual; input <- rmsnorm(residual) * weight."""
    _fused_add_rms_norm_opus(input, residual, weight, epsilon, gemma_norm, model_sensitive)


def rmsnorm2d_fwd_opus(input: Tensor, weight: Tensor, epsilon: float, use_model_sensitive_rmsnorm: int = 0) -> Tensor:
    return _rmsnorm2d_fwd_opus(input, weight, epsilon, False, use_model_sensitive_rmsnorm)


def rmsnorm2d_fwd_with_add_opus(
    out: Tensor,
    input: Tensor,
    residual_in: Tensor,
    residual_out: Tensor,
    weight: Tensor,
    epsilon: float,
    use_model_sensitive_rmsnorm: int = 0,
    gemma_norm: bool = False,
) -> None:
    """residual_out = input + residual_in; out = rmsnorm(residual_out) * weight."""
    _with_add_opus(out, input, residual_in, residual_out, weight, epsilon, gemma_norm, use_model_sensitive_rmsnorm)


def rmsnorm2d_fwd_with_dynamicquant_opus(
    out: Tensor, input: Tensor, yscale: Tensor, weight: Tensor, epsilon: float, use_model_sensitive_rmsnorm: int = 0
) -> None:
    _dynamicquant_opus(out, input, yscale, weight, epsilon, None, None, 0, False, False, use_model_sensitive_rmsnorm)


def rmsnorm2d_fwd_with_smoothquant_opus(
    out: Tensor, input: Tensor, xscale: Tensor, yscale: Tensor, weight: Tensor, epsilon: float,
    use_model_sensitive_rmsnorm: int = 0,
) -> None:
    if xscale is None:
        raise none_error("rmsnorm2d_fwd_with_smoothquant_opus", "xscale")
    _smoothquant_opus(out, input, yscale, weight, epsilon, xscale, None, 0, False, False, use_model_sensitive_rmsnorm)


def rmsnorm2d_fwd_with_add_dynamicquant_opus(
    out: Tensor,
    input: Tensor,
    residual_in: Tensor,
    residual_out: Tensor,
    yscale: Tensor,
    weight: Tensor,
    epsilon: float,
    use_model_sensitive_rmsnorm: int = 0,
) -> None:
    _add_dynamicquant_opus(out, input, residual_in, residual_out, yscale, weight, epsilon, None, None, 0, False,
                           False, use_model_sensitive_rmsnorm)


def rmsnorm2d_fwd_with_add_smoothquant_opus(
    out: Tensor,
    input: Tensor,
    residual_in: Tensor,
    residual_out: Tensor,
    xscale: Tensor,
    yscale: Tensor,
    weight: Tensor,
    epsilon: float,
    out_before_quant: Optional[Tensor] = None,
    use_model_sensitive_rmsnorm: int = 0,
) -> None:
    if xscale is None:
        raise none_error("rmsnorm2d_fwd_with_add_smoothquant_opus", "xscale")
    _add_smoothquant_opus(out, input, residual_in, residual_out, yscale, weight, epsilon, xscale, out_before_quant, 0,
                          False, False, use_model_sensitive_rmsnorm)


__all__ = [
    "rms_norm_opus",
    "fused_add_rms_norm_opus",
    "rmsnorm2d_fwd_opus",
    "rmsnorm2d_fwd_with_add_opus",
    "rmsnorm2d_fwd_with_dynamicquant_opus",
    "rmsnorm2d_fwd_with_smoothquant_opus",
    "rmsnorm2d_fwd_with_add_dynamicquant_opus",
    "rmsnorm2d_fwd_with_add_smoothquant_opus",
]
