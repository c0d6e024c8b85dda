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

from .._backend import ops
from .rmsnorm import _call, _empty_out

_layernorm = ops.layernorm.default
_add_layernorm = ops.add_layernorm.default
_layernorm_quant = ops.layernorm_quant.default
_add_layernorm_quant = ops.add_layernorm_quant.default


def _layer_norm_to_new(public, input, weight, bias, epsilon, x_bias) -> Tensor:
    out = _empty_out(input, public)
    _call(public, "layernorm", _layernorm, out, input, weight, bias, epsilon, x_bias)
    return out


def layer_norm(
    input: Tensor,
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    epsilon: float = 1e-5,
    x_bias: Optional[Tensor] = None,
) -> Tensor:
    return _layer_norm_to_new("layer_norm", input, weight, bias, epsilon, x_bias)


def layernorm2d_fwd(
    input: Tensor,
    weight: Tensor,
    bias: Tensor,
    epsilon: float = 1e-5,
    x_bias: Optional[Tensor] = None,
) -> Tensor:
    return _layer_norm_to_new("layernorm2d_fwd", input, weight, bias, epsilon, x_bias)


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
    _call("layernorm2d_fwd_with_add", "add_layernorm", _add_layernorm, out, input, residual_in, residual_out,
          weight, bias, epsilon, x_bias)


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
    _call("layernorm2d_fwd_with_smoothquant", "layernorm_quant", _layernorm_quant, out, input, yscale, weight,
          bias, epsilon, xscale, x_bias)


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
    _call("layernorm2d_fwd_with_add_smoothquant", "add_layernorm_quant", _add_layernorm_quant, out, input,
          residual_in, residual_out, yscale, weight, bias, epsilon, xscale, x_bias)


__all__ = [
    "layer_norm",
    "layernorm2d_fwd",
    "layernorm2d_fwd_with_add",
    "layernorm2d_fwd_with_smoothquant",
    "layernorm2d_fwd_with_add_smoothquant",
]
