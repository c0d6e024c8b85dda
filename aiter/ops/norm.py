"""LayerNorm with upstream aiter's names, argument order and return
conventions (upstream keeps these in aiter/ops/norm.py).

out = (x - mean) / sqrt(var + epsilon) * weight + bias over the last dim,
fp32 accumulation, the variance taken over deviations from the mean. weight
and bias are optional where upstream allows None (1 and 0). ``x_bias`` (length
hidden) is added to the input before the norm and before the residual add:
residual_out = input + x_bias + residual_in, rounded to the input dtype once.
Smooth quant multiplies the normed value by ``xscale`` (float32) and
quantises per row, as in aiter/ops/quant.py.
"""
from typing import Optional

from torch import Tensor

from ._route import allocator, none_error, writer

_layer_norm = allocator("layer_norm", "layernorm")
_layernorm2d_fwd = allocator("layernorm2d_fwd", "layernorm")
_with_add = writer("layernorm2d_fwd_with_add", "add_layernorm")
_smoothquant = writer("layernorm2d_fwd_with_smoothquant", "layernorm_quant")
_add_smoothquant = writer("layernorm2d_fwd_with_add_smoothquant", "add_layernorm_quant")


def layer_norm(
    input: Tensor,
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    epsilon: float = 1e-5,
    x_bias: Optional[Tensor] = None,
) -> Tensor:
    return _layer_norm(input, weight, bias, epsilon, x_bias)


def layernorm2d_fwd(
    input: Tensor,
    weight: Tensor,
    bias: Tensor,
    epsilon: float = 1e-5,
    x_bias: Optional[Tensor] = None,
) -> Tensor:
    return _layernorm2d_fwd(input, weight, bias, epsilon, x_bias)


def layernorm2d_fwd_with_add(
    out: Tensor,
    input: Tensor,
    residual_in: Tensor,
    residual_out: Tensor,
    weight: Tensor,
    bias: Tensor,
    epsilon: float,
    x_bias: Optional[Tensor] = None,
) -> None:
    """residual_out = input [+ x_bias] + residual_in; out = layernorm(residual_out) * weight + bias."""
    _with_add(out, input, residual_in, residual_out, weight, bias, epsilon, x_bias)


def layernorm2d_fwd_with_smoothquant(
    out: Tensor,
    input: Tensor,
    xscale: Tensor,
    yscale: Tensor,
    weight: Tensor,
    bias: Tensor,
    epsilon: float,
    x_bias: Optional[Tensor] = None,
) -> None:
    if xscale is None:
        raise none_error("layernorm2d_fwd_with_smoothquant", "xscale")
    _smoothquant(out, input, yscale, weight, bias, epsilon, xscale, x_bias)


def layernorm2d_fwd_with_add_smoothquant(
    out: Tensor,
    input: Tensor,
    residual_in: Tensor,
    residual_out: Tensor,
    xscale: Tensor,
    yscale: Tensor,
    weight: Tensor,
    bias: Tensor,
    epsilon: float,
    x_bias: Optional[Tensor] = None,
) -> None:
    if xscale is None:
        raise none_error("layernorm2d_fwd_with_add_smoothquant", "xscale")
    _add_smoothquant(out, input, residual_in, residual_out, yscale, weight, bias, epsilon, xscale, x_bias)


__all__ = [
    "layer_norm",
    "layernorm2d_fwd",
    "layernorm2d_fwd_with_add",
    "layernorm2d_fwd_with_smoothquant",
    "layernorm2d_fwd_with_add_smoothquant",
]
