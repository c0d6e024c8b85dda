"""Upstream aiter's dtype names (``from aiter import dtypes``): short names
for torch dtypes, the ``d_dtypes`` table and ``str2Dtype`` for argparse.

``fp8`` is the fp8 format of the device the process runs on:
``float8_e4m3fnuz`` on gfx942 (MI300), ``float8_e4m3fn`` everywhere else,
CUDA GPUs and the CPU included. (Upstream falls back to uint8 where it finds
no ROCm GPU; here every device gets a real fp8 type, which the norm ops'
quantising epilogue writes.) Names whose dtype this torch lacks fall back to
uint8, as upstream's do.
"""
import argparse

import torch

from ..ops.enum import QuantType

_BYTE = torch.uint8


def _fp8_for_this_device() -> torch.dtype:
    # Only ROCm builds can be on gfx942; asking CUDA builds would initialise the GPU at import.
    if torch.version.hip is not None:
        from .chip_info import runtime_gfx

        if runtime_gfx() == "gfx942":
            return torch.float8_e4m3fnuz
    return torch.float8_e4m3fn


fp8 = _fp8_for_this_device()
fp8_e8m0 = getattr(torch, "float8_e8m0fnu", _BYTE)
fp16 = torch.float16
bf16 = torch.bfloat16
fp32 = torch.float32
i4x2 = getattr(torch, "int4", _BYTE)
fp4x2 = getattr(torch, "float4_e2m1fn_x2", _BYTE)
u32 = torch.uint32
i32 = torch.int32
i16 = torch.int16
i8 = torch.int8
u8 = torch.uint8
i64 = torch.int64
u64 = torch.uint64

# Upstream's order (its C++ dtype enum's).
d_dtypes = {
    "fp8": fp8, "fp8_e8m0": fp8_e8m0, "fp16": fp16, "bf16": bf16, "fp32": fp32, "i4x2": i4x2, "fp4x2": fp4x2,
    "u32": u32, "i32": i32, "i16": i16, "i8": i8, "u8": u8, "i64": i64, "u64": u64,
}


def _one(name: str):
    if name.lower() == "none":
        return None
    if name in d_dtypes:
        return d_dtypes[name]
    for member in QuantType:  # quant types are accepted by name, in any case
        if member.name.lower() == name.lower():
            return member
    raise ValueError(f"'{name}' is neither a dtype name ({', '.join(d_dtypes)}) nor a QuantType")


def str2Dtype(v: str):
    """An argparse type: ``"bf16"`` -> torch.bfloat16, ``"none"`` -> None, a
    QuantType name -> that member; a comma list (or a trailing comma, or
    parentheses around it) -> a tuple of those."""
    parts = [p.strip() for p in v.strip("()").split(",") if p.strip()]
    try:
        if len(parts) == 1 and "," not in v:
            return _one(parts[0])
        return tuple(_one(p) for p in parts)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"invalid dtype {v!r}: {e}") from e
