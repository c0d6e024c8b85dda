"""Upstream aiter's pure-torch quantisation references, which its norm tests
compare the fused kernels with: ``pertoken_quant``, ``per_tensor_quant``,
``get_dtype_max`` and ``get_torch_quant(QuantType)``. They compute as
upstream's do (in float32; the cast to int8 truncates toward zero, as
torch's ``.to`` does), so a test's tolerances mean the same here.
"""
import functools

import torch

from ..utility import dtypes
from .enum import QuantType


@functools.lru_cache
def get_dtype_max(dtype: torch.dtype):
    """The largest finite value of a float or integer dtype (448.0 for
    float8_e4m3fn, 127 for int8)."""
    try:
        return torch.finfo(dtype).max
    except TypeError:
        return torch.iinfo(dtype).max


def pertoken_quant(x, scale=None, x_scale=None, scale_dtype=dtypes.fp32, quant_dtype=dtypes.i8, dtypeMax=None):
    """(y, y_scale): one scale per row (the last dim), max|x [* x_scale]| /
    dtypeMax, shaped like x with a last dim of 1 (an all-zero row gets 1); y =
    x [* x_scale] / scale cast to quant_dtype. A given ``scale`` is used as is."""
    values = x.to(dtypes.fp32)
    if x_scale is not None:  # smooth quant
        values = values * x_scale
    if scale is None:
        limit = get_dtype_max(quant_dtype) if dtypeMax is None else dtypeMax
        scale = values.abs().amax(dim=-1, keepdim=True) / limit
        scale[scale == 0] = 1
    return (values / scale).to(quant_dtype), scale.to(scale_dtype)


def per_tensor_quant(x, scale=None, scale_dtype=dtypes.fp32, quant_dtype=dtypes.i8, dtypeMax=None):
    """(y, scale of shape (1,)): one scale for the whole tensor."""
    values = x.to(dtypes.fp32)
    if scale is None:
        limit = get_dtype_max(quant_dtype) if dtypeMax is None else dtypeMax
        scale = values.abs().max() / limit
    return (values / scale).to(quant_dtype), scale.view(1).to(scale_dtype)


def _per_group_of(columns: int):
    """pertoken_quant over groups of `columns` columns of a 2-D x: scales
    of shape (rows, cols // columns)."""

    def quant(x, scale=None, quant_dtype=dtypes.i8):
        rows, cols = x.shape
        if cols % columns:
            raise ValueError(f"per-1x{columns} quant: the last dim ({cols}) is not a multiple of {columns}")
        y, s = pertoken_quant(x.reshape(-1, columns), scale=scale, quant_dtype=quant_dtype)
        return y.view(rows, cols), s.view(rows, cols // columns)

    return quant


def _no_quant(x, *args, **kwargs):
    return x, None


@functools.lru_cache
def get_torch_quant(qType):
    """The torch reference for a QuantType (No, per_Tensor, per_Token,
    per_1x128); others return a function that raises NotImplementedError
    (per_1x32 is fp4, which nothing here produces)."""
    known = {
        QuantType.No: _no_quant,
        QuantType.per_Tensor: per_tensor_quant,
        QuantType.per_Token: pertoken_quant,
        QuantType.per_1x128: _per_group_of(128),
    }
    if qType in known:
        return known[qType]

    def unsupported(*args, **kwargs):
        raise NotImplementedError(f"unsupported quant type {qType=} (the torch references here cover "
                                  f"{', '.join(str(q) for q in known)})")

    return unsupported
