"""upstream aiter's fused Q/K RMSNorm entry points (its module of this name),
with upstream's argument names, order, defaults and return values (None):

    fused_qk_rmsnorm_group_quant(q_out_quantized, q_out_scale, q, q_weight, q_epsilon=1e-6, q_out_unquantized,
                                 k_out, q_res_out, k, k_weight, k_epsilon, q_residual, group_size=128,
                                 transpose_scale=False, gemma_norm=False)
    fused_qk_rmsnorm_per_token_quant(... the same without group_size and transpose_scale)
    fused_qk_rmsnorm(... gemma_norm=False, quant_type=QuantType.No, group_size=None, transpose_scale=False)

What they compute (every tensor may be any view whose last dim has stride 1;
Q and K may differ in head size and in rows):

- Q: with ``q_residual``, ``q_res_out = q + q_residual`` (rounded to q's
  dtype) and that sum is normalised, else q itself:
  ``y = rmsnorm(.) * q_weight`` (``1 + q_weight`` with gemma_norm), with
  ``q_epsilon``. With ``q_out_scale`` given y is quantised into
  ``q_out_quantized`` (fp8 or int8) with fp32 scales, one per row
  (per_token_quant; ``q_out_scale`` of shape (rows, 1)) or per group of
  ``group_size`` columns (group_quant; shape (rows, groups)); with
  ``transpose_scale`` the scales are stored group-major (group g of row r at
  flat index g * rows + r: a contiguous tensor, or the (1, rows)-strided view
  of a contiguous (groups, rows) one). ``q_out_unquantized``, when given,
  gets y in q's dtype. Without ``q_out_scale`` (group_quant's no-quant mode,
  and fused_qk_rmsnorm's QuantType.No) y goes to ``q_out_unquantized``
  (group_quant) or ``q_out_quantized`` (fused_qk_rmsnorm, as upstream);
  given both, both get it.
- K (when ``k`` is given; it needs ``k_weight`` and ``k_out``):
  ``k_out = rmsnorm(k) * k_weight`` (gemma_norm applies too), with
  ``k_epsilon`` (default q_epsilon). No residual, no quantisation.

How it runs: one launch of the fused Q/K kernel (``qk_rmsnorm``'s) when Q
and K share head size and epsilon and Q is neither quantised nor given a
residual (fused_qk_rmsnorm's plain case); otherwise two launches, Q's
(RMSNorm with the residual add and/or the quant epilogue) then K's plain
RMSNorm, both checked before either runs. A single launch for those cases
would need a new kernel variant (two head sizes, a quantising first job).

Differences from upstream (supersets): fused_qk_rmsnorm's QuantType.No path
applies ``q_residual``, ``q_res_out``, ``gemma_norm`` and
``q_out_unquantized`` (upstream ignores them there); int8 output is accepted
besides fp8; fp4x2 output is not (TypeError: nothing here writes fp4).
"""
from typing import Optional

import torch
from torch import Tensor

from ._route import none_error, writer
from .enum import QuantType

_PUBLIC = ("fused_qk_rmsnorm", "fused_qk_rmsnorm_per_token_quant", "fused_qk_rmsnorm_group_quant")
_WRITERS = {name: writer(name, "fused_qk_rmsnorm") for name in _PUBLIC}
_GROUP_SIZE_OF = {QuantType.per_1x128: 128, QuantType.per_128x128: 128, QuantType.per_256x128: 128,
                  QuantType.per_1024x128: 128, QuantType.per_1x32: 32}


def _launch(public, q_out_quantized, q_out_scale, q, q_weight, q_epsilon, q_out_unquantized, k_out, q_res_out, k,
            k_weight, k_epsilon, q_residual, group_size, shuffle_scale, gemma_norm):
    _WRITERS[public](q_out_quantized, q_out_scale, q, q_weight, q_epsilon, q_out_unquantized, k_out, q_res_out, k,
                     k_weight, q_epsilon if k_epsilon is None else k_epsilon, q_residual, group_size, shuffle_scale,
                     gemma_norm)


def _describe(t: Tensor) -> str:
    return f"shape {list(t.shape)}, stride {list(t.stride())}, dtype {t.dtype}, device {t.device}"


def _group_major(public: str, scale, transpose_scale: bool) -> bool:
    """shuffle_scale for the op: True where the op must lay the scales out
    group-major itself (a contiguous tensor); a (1, rows)-strided view
    already addresses (r, g) at g * rows + r through its strides."""
    if not transpose_scale or not isinstance(scale, Tensor) or scale.dim() != 2:
        return transpose_scale
    if scale.is_contiguous():
        return True
    if scale.stride() == (1, scale.shape[0]):
        return False
    raise ValueError(f"aiter.{public}: argument 'q_out_scale' must be contiguous, or the transpose of a contiguous "
                     f"(groups, rows) tensor, with transpose_scale=True ({_describe(scale)})")


def _per_token(public, q_out_quantized, q_out_scale, q, q_weight, q_epsilon, q_out_unquantized, k_out, q_res_out, k,
               k_weight, k_epsilon, q_residual, gemma_norm):
    if q_out_scale is None:
        raise none_error(public, "q_out_scale")
    if isinstance(q_out_scale, Tensor) and (q_out_scale.dim() != 2 or q_out_scale.shape[1] != 1):
        raise ValueError(f"aiter.{public}: argument 'q_out_scale' must have shape [rows, 1], one scale per row "
                         f"of q ({_describe(q_out_scale)})")
    _launch(public, q_out_quantized, q_out_scale, q, q_weight, q_epsilon, q_out_unquantized, k_out, q_res_out, k,
            k_weight, k_epsilon, q_residual, 0, False, gemma_norm)


def _group(public, q_out_quantized, q_out_scale, q, q_weight, q_epsilon, q_out_unquantized, k_out, q_res_out, k,
           k_weight, k_epsilon, q_residual, group_size, transpose_scale, gemma_norm):
    # (A group_size that is not an int is the op's TypeError.)
    if q_out_scale is not None and isinstance(group_size, int) and group_size <= 0:
        raise ValueError(f"aiter.{public}: argument 'group_size' must be a positive int for per-group scales, got "
                         f"{group_size!r} (fused_qk_rmsnorm_per_token_quant gives one scale per row)")
    shuffle = _group_major(public, q_out_scale, transpose_scale)
    _launch(public, q_out_quantized, q_out_scale, q, q_weight, q_epsilon, q_out_unquantized, k_out, q_res_out, k,
            k_weight, k_epsilon, q_residual, group_size if q_out_scale is not None else 0, shuffle, gemma_norm)


def fused_qk_rmsnorm_group_quant(
    q_out_quantized: Optional[Tensor] = None,
    q_out_scale: Optional[Tensor] = None,
    q: Optional[Tensor] = None,
    q_weight: Optional[Tensor] = None,
    q_epsilon: float = 1e-6,
    q_out_unquantized: Optional[Tensor] = None,
    k_out: Optional[Tensor] = None,
    q_res_out: Optional[Tensor] = None,
    k: Optional[Tensor] = None,
    k_weight: Optional[Tensor] = None,
    k_epsilon: Optional[float] = None,
    q_residual: Optional[Tensor] = None,
    group_size: int = 128,
    transpose_scale: bool = False,
    gemma_norm: bool = False,
) -> None:
    _group("fused_qk_rmsnorm_group_quant", q_out_quantized, q_out_scale, q, q_weight, q_epsilon, q_out_unquantized,
           k_out, q_res_out, k, k_weight, k_epsilon, q_residual, group_size, transpose_scale, gemma_norm)


def fused_qk_rmsnorm_per_token_quant(
    q_out_quantized: Tensor,
    q_out_scale: Tensor,
    q: Tensor,
    q_weight: Tensor,
    q_epsilon: float,
    q_out_unquantized: Optional[Tensor] = None,
    k_out: Optional[Tensor] = None,
    q_res_out: Optional[Tensor] = None,
    k: Optional[Tensor] = None,
    k_weight: Optional[Tensor] = None,
    k_epsilon: Optional[float] = None,
    q_residual: Optional[Tensor] = None,
    gemma_norm: bool = False,
) -> None:
    _per_token("fused_qk_rmsnorm_per_token_quant", q_out_quantized, q_out_scale, q, q_weight, q_epsilon,
               q_out_unquantized, k_out, q_res_out, k, k_weight, k_epsilon, q_residual, gemma_norm)


def fused_qk_rmsnorm(
    q_out_quantized: Optional[Tensor] = None,
    q_out_scale: Optional[Tensor] = None,
    q: Optional[Tensor] = None,
    q_weight: Optional[Tensor] = None,
    q_epsilon: float = 1e-6,
    q_out_unquantized: Optional[Tensor] = None,
    k_out: Optional[Tensor] = None,
    q_res_out: Optional[Tensor] = None,
    k: Optional[Tensor] = None,
    k_weight: Optional[Tensor] = None,
    k_epsilon: Optional[float] = None,
    q_residual: Optional[Tensor] = None,
    gemma_norm: bool = False,
    quant_type: Optional[QuantType] = QuantType.No,
    group_size: Optional[int] = None,
    transpose_scale: bool = False,
) -> None:
    """One entry for every mode, picked by quant_type: QuantType.No (Q's
    result in q_out_quantized, which then holds q's dtype), per_Token
    (fused_qk_rmsnorm_per_token_quant) or a per-group type (group_size from
    it unless given: 128 for the x128 types, 32 for per_1x32)."""
    public = "fused_qk_rmsnorm"
    if quant_type == QuantType.No:
        if q_out_quantized is None and q_out_unquantized is None and isinstance(q, Tensor):
            # Upstream normalises Q into a buffer of its own here and drops it (K is still written).
            q_out_quantized = torch.empty_like(q)
        _launch(public, q_out_quantized, None, q, q_weight, q_epsilon, q_out_unquantized, k_out, q_res_out, k,
                k_weight, k_epsilon, q_residual, 0, False, gemma_norm)
    elif quant_type == QuantType.per_Tensor:
        raise NotImplementedError("fused_qk_rmsnorm + per_tensor quant not supported")
    elif quant_type == QuantType.per_Token:
        _per_token(public, q_out_quantized, q_out_scale, q, q_weight, q_epsilon, q_out_unquantized, k_out,
                   q_res_out, k, k_weight, k_epsilon, q_residual, gemma_norm)
    else:
        if group_size is None:
            group_size = _GROUP_SIZE_OF.get(quant_type)
        _group(public, q_out_quantized, q_out_scale, q, q_weight, q_epsilon, q_out_unquantized, k_out, q_res_out, k,
               k_weight, k_epsilon, q_residual, group_size, transpose_scale, gemma_norm)


__all__ = list(_PUBLIC)
