"""vLLM-style custom-op entry points backed by aiter, with no reshape and no
``.contiguous()`` on the caller side.

vLLM's ``_custom_ops`` exposes ``rms_norm(out, input, weight, epsilon)`` (out
of place into a caller buffer) and ``fused_add_rms_norm(input, residual,
weight, epsilon)`` (in place: residual <- input + residual, input <-
rmsnorm(residual) * weight). These map one to one onto aiter's
``rms_norm_cu`` and ``fused_add_rms_norm_cu``, which read any view with a
dense last dim in place (e.g. ``qkv[:, :q_size].view(T, H, D)``).
"""
import torch

import aiter


def rms_norm(out: torch.Tensor, input: torch.Tensor, weight: torch.Tensor, epsilon: float) -> None:
    aiter.rms_norm_cu(out, input, weight, epsilon)


def fused_add_rms_norm(input: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, epsilon: float) -> None:
    aiter.fused_add_rms_norm_cu(input, residual, weight, epsilon)


class RMSNorm(torch.nn.Module):
    """The shape of vLLM's RMSNorm.forward_cuda on top of the two ops."""

    def __init__(self, hidden_size: int, eps: float = 1e-6, dtype=None):
        super().__init__()
        self.variance_epsilon = eps
        self.weight = torch.nn.Parameter(torch.ones(hidden_size, dtype=dtype))

    def forward(self, x: torch.Tensor, residual: torch.Tensor = None):
        if residual is not None:
            fused_add_rms_norm(x, residual, self.weight.data, self.variance_epsilon)
            return x, residual
        out = torch.empty_like(x)
        rms_norm(out, x, self.weight.data, self.variance_epsilon)
        return out
