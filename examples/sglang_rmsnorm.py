"""An sglang-style RMSNorm layer calling aiter with no caller-side guard.

sglang's ROCm path imports aiter's ``rmsnorm2d_fwd`` / ``rmsnorm2d_fwd_with_add``
and, with upstream aiter, has to make the input a dense (rows, hidden)
matrix first (``x.contiguous().reshape(-1, hidden)``), because upstream's
launcher assumes that layout. With the stride-aware ops the layer passes
whatever view it gets (e.g. the Q/K slices of a packed QKV projection, shape
(T, H, D) with row stride (Hq + 2*Hkv) * D) straight through.
"""
from typing import Optional, Tuple, Union

import torch
from torch import nn

from aiter import rmsnorm2d_fwd as rms_norm
from aiter import rmsnorm2d_fwd_with_add as fused_add_rms_norm


class RMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float = 1e-6, dtype: Optional[torch.dtype] = None):
        super().__init__()
        self.hidden_size = hidden_size
        self.variance_epsilon = eps
        self.weight = nn.Parameter(torch.ones(hidden_size, dtype=dtype))

    def forward(
        self, x: torch.Tensor, residual: Optional[torch.Tensor] = None
    ) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        return self.forward_aiter(x, residual)

    def forward_aiter(
        self, x: torch.Tensor, residual: Optional[torch.Tensor] = None
    ) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        if residual is None:
            return rms_norm(x, self.weight.data, self.variance_epsilon)
        output = torch.empty_like(x)
        residual_out = torch.empty_like(x)
        fused_add_rms_norm(output, x, residual, residual_out, self.weight.data, self.variance_epsilon)
        return output, residual_out

    def forward_native(
        self, x: torch.Tensor, residual: Optional[torch.Tensor] = None
    ) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        """Plain-PyTorch version, fp32 accumulation (for reading, not speed)."""
        dtype = x.dtype
        if residual is not None:
            x = (x.float() + residual.float()).to(dtype)
            residual = x
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        out = (xf * self.weight.float()).to(dtype)
        return out if residual is None else (out, residual)
