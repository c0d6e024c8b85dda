"""Quantised RMSNorm with upstream aiter's names, argument order and return
conventions: dynamic (per-token or per-group) and smooth quantisation to int8,
float8_e4m3fn or float8_e4m3fnuz with float32 scales.

y = rmsnorm(x) * weight [* xscale]; for each row (or group of ``group_size``
columns) scale = max|y| / qmax (qmax 127, 448, 240; computed as max|y| times
the fp32 reciprocal of qmax, within an ulp) and out = round(y * (1 / scale)),
round to nearest even, saturating (an all-zero row gets scale 0 and zeros).
Every tensor argument may be any view whose last dim has stride 1; the scale
tensor may have shape ``input.shape[:-1]`` (``+ (groups,)``) or upstream's
flattened ``(rows,)`` / ``(rows, 1)`` / ``(rows, groups)``. ``shuffle_scale``
(group scales only) writes them group-major, as upstream's HIP kernel does:
group g of row r at flat index ``g * rows + r`` of a contiguous scale tensor.
"""
from typing import Optional

from torch import Tensor

from ._route import none_error, writer
from .torch_quant import get_dtype_max, get_torch_quant, per_tensor_quant, pertoken_quant  # noqa: F401  (upstream's module has them)

_SCALE = {"yscale": "scale"}  # upstream's HIP-module names call it scale
_dynamicquant = writer("rmsnorm2d_fwd_with_dynamicquant", "rmsnorm_quant")
_add_dynamicquant = writer("rmsnorm2d_fwd_with_add_dynamicquant", "add_rmsnorm_quant")
_smoothquant = writer("rmsnorm2d_fwd_with_smoothquant", "rmsnorm_quant")
_add_smoothquant = writer("rmsnorm2d_fwd_with_add_smoothquant", "add_rmsnorm_quant")
_rmsnorm_quant = writer("rmsnorm_quant", "rmsnorm_quant", _SCALE)
_add_rmsnorm_quant = writer("add_rmsnorm_quant", "add_rmsnorm_quant", _SCALE)


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
    _dynamicquant(out, input, yscale, weight, epsilon, None, None, group_size, shuffle_scale, False,
                  use_model_sensitive_rmsnorm)


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
    _add_dynamicquant(out, input, residual_in, residual_out, yscale, weight, epsilon, None, None, group_size,
                      shuffle_scale, False, use_model_sensitive_rmsnorm)


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
    if xscale is None:
        raise none_error("rmsnorm2d_fwd_with_smoothquant", "xscale")
    _smoothquant(out, input, yscale, weight, epsilon, xscale, None, 0, False, False, use_model_sensitive_rmsnorm)


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
    if xscale is None:
        raise none_error("rmsnorm2d_fwd_with_add_smoothquant", "xscale")
    _add_smoothquant(out, input, residual_in, residual_out, yscale, weight, epsilon, xscale, out_before_quant, 0,
                     False, False, use_model_sensitive_rmsnorm)


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
    _rmsnorm_quant(out, input, scale, weight, epsilon, None, None, group_size, shuffle_scale, gemma_norm, 0)


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
    _add_rmsnorm_quant(out, input, residual_in, residual_out, scale, weight, epsilon, None, None, group_size,
                       shuffle_scale, gemma_norm, 0)


__all__ = [
    "rmsnorm2d_fwd_with_dynamicquant",
    "rmsnorm2d_fwd_with_add_dynamicquant",
    "rmsnorm2d_fwd_with_smoothquant",
    "rmsnorm2d_fwd_with_add_smoothquant",
    "rmsnorm_quant",
    "add_rmsnorm_quant",
]
