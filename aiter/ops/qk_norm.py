"""Fused Q/K RMSNorm (beyond upstream): the Q and K heads of one packed QKV
projection, each with its own weight, normalised in a single launch.

    q_out, k_out = aiter.qk_rmsnorm(q, k, q_weight, k_weight, epsilon)

q and k are any views whose last dim (head_dim) has stride 1, e.g.
``qkv[:, :Hq*D].view(T, Hq, D)`` and ``qkv[:, Hq*D:(Hq+Hk)*D].view(T, Hk, D)``
(strides (row, D, 1)); they are read in place. With ``q_out`` and ``k_out``
left as None the result is written back into q and k (in place) and q, k are
returned; otherwise into the given outputs (any non-overlapping views of q's
and k's shapes), which are returned. Both must share head_dim, dtype and
device; each weight has length head_dim and the input's dtype. The result
equals ``rms_norm(q, q_weight, eps)`` and ``rms_norm(k, k_weight, eps)``.
"""
from typing import Optional, Tuple

from torch import Tensor

from ._route import writer

_out_of_place = writer("qk_rmsnorm", "qk_rmsnorm")
_in_place = writer("qk_rmsnorm", "qk_rmsnorm_")


def qk_rmsnorm(
    q: Tensor,
    k: Tensor,
    q_weight: Tensor,
    k_weight: Tensor,
    epsilon: float,
    q_out: Optional[Tensor] = None,
    k_out: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    if (q_out is None) != (k_out is None):
        raise ValueError("aiter.qk_rmsnorm: pass both 'q_out' and 'k_out' (out of place) or neither (in place)")
    if q_out is None:
        _in_place(q, k, q_weight, k_weight, epsilon)
        return q, k
    _out_of_place(q_out, q, q_weight, k_out, k, k_weight, epsilon)
    return q_out, k_out


__all__ = ["qk_rmsnorm"]
