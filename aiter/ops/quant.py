"""Quantised RMSNorm with upstream aiter's names, argument order and return
conventions: dynamic (per-token or per-group) and smooth quantisation to int8,
float8_e4m3fn or float8_e4m3fnuz with float32 scales.

y = rmsnorm(x) * weight [* xscale]; for each row (or group of ``group_size``
columns) scale = max|y| / qmax (qmax 127, 448, 240) and out = round(y / scale),
round to nearest even, saturating (an all-zero row gets scale 0 and zeros).
Every tensor argument may be any view whose last dim has stride 1; the scale
tensor may have shape ``input.shape[:-1]`` (``+ (groups,)``) or upstream's
flattened ``(rows,)`` / ``(rows, 1)`` / ``(rows, groups)``. ``shuffle_scale``
(group scales only) writes them group-major, as upstream's HIP kernel does:
group g of row r at flat index ``g * rows + r`` of a contiguous scale tensor.
"""
from typing import Optional

from torch import Tensor

from .._backend import ops
from .rmsnorm import _call

_rmsnorm_quant = ops.rmsnorm_quant.default
_add_rmsnorm_quant = ops.add_rmsnorm_quant.default


def rmsnorm2d_fwd_with_dynamicquant(
    out: Tensor,
    input: Tensor,
    yscale: Tensor,
    weight: Tensor,
    epsilon: float,
    use_model_sensitive_rmsnorm: int = 0,
    group_size: int = 0,
    shuffle_scale: bool = False,
) -> None:
    _call("rmsnorm2d_fwd_with_dynamicquant", "rmsnorm_quant", _rmsnorm_quant, out, input, yscale, weight,
          epsilon, None, None, int(group_size), bool(shuffle_scale), False, use_model_sensitive_rmsnorm)


def rmsnorm2d_fwd_with_add_dynamicquant(
    out: Tensor,
    input: Tensor,
    residual_in: Tensor,
    residual_out: Tensor,
    yscale: Tensor,
    weight: Tensor,
    epsilon: float,
    use_model_sensitive_rmsnorm: int = 0,
    group_size: int = 0,
    shuffle_scale: bool = False,
) -> None:
    """residual_out = input + residual_in; out, yscale = quant(rmsnorm(residual_out) * weight)."""
    _call("rmsnorm2d_fwd_with_add_dynamicquant", "add_rmsnorm_quant", _add_rmsnorm_quant, out, input,
          residual_in, residual_out, yscale, weight, epsilon, None, None, int(group_size), bool(shuffle_scale),
          False, use_model_sensitive_rmsnorm)


def rmsnorm2d_fwd_with_smoothquant(
    out: Tensor,
    input: Tensor,
    xscale: Tensor,
    yscale: Tensor,
    weight: Tensor,
    epsilon: float,
    use_model_sensitive_rmsnorm: int = 0,
) -> None:
    """out, yscale = quant(rmsnorm(input) * weight * xscale), xscale float32 of length hidden."""
    _call("rmsnorm2d_fwd_with_smoothquant", "rmsnorm_quant", _rmsnorm_quant, out, input, yscale, weight,
          epsilon, xscale, None, 0, False, False, use_model_sensitive_rmsnorm)


def rmsnorm2d_fwd_with_add_smoothquant(
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
    """The fused add, then smooth quant; out_before_quant (input dtype) gets
    rmsnorm(residual_out) * weight * xscale before quantising."""
    _call("rmsnorm2d_fwd_with_add_smoothquant", "add_rmsnorm_quant", _add_rmsnorm_quant, out, input,
          residual_in, residual_out, yscale, weight, epsilon, xscale, out_before_quant, 0, False, False,
          use_model_sensitive_rmsnorm)


def rmsnorm_quant(
    out: Tensor,
    input: Tensor,
    scale: Tensor,
    weight: Tensor,
    epsilon: float,
    group_size: int = 0,
    shuffle_scale: bool = False,
    gemma_norm: bool = False,
) -> None:
    """Upstream's HIP-module name for dynamic quant (gemma_norm scales by 1 + weight)."""
    _call("rmsnorm_quant", "rmsnorm_quant", _rmsnorm_quant, out, input, scale, weight, epsilon, None, None,
          int(group_size), bool(shuffle_scale), bool(gemma_norm), 0, arg_names={"yscale": "scale"})


def add_rmsnorm_quant(
    out: Tensor,
    input: Tensor,
    residual_in: Tensor,
    residual_out: Tensor,
    scale: Tensor,
    weight: Tensor,
    epsilon: float,
    group_size: int = 0,
    shuffle_scale: bool = False,
    gemma_norm: bool = False,
) -> None:
    _call("add_rmsnorm_quant", "add_rmsnorm_quant", _add_rmsnorm_quant, out, input, residual_in, residual_out,
          scale, weight, epsilon, None, None, int(group_size), bool(shuffle_scale), bool(gemma_norm), 0,
          arg_names={"yscale": "scale"})


__all__ = [
    "rmsnorm2d_fwd_with_dynamicquant",
    "rmsnorm2d_fwd_with_add_dynamicquant",
    "rmsnorm2d_fwd_with_smoothquant",
    "rmsnorm2d_fwd_with_add_smoothquant",
    "rmsnorm_quant",
    "add_rmsnorm_quant",
]
