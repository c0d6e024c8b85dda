"""The CPU SIMT executor's stand-ins for HIP's device intrinsics hold to
their semantics: fp16 / bf16 conversions (round to nearest even, subnormals,
overflow, NaN) against torch's casts, and the kernels' own quant encoders
(encode_values, run on the executor: the HIP branch of compat.h) against
torch's int8 / fp8 casts, over every float32 upper half with rounding-case
low halves (test_quant_convert.py's grid)."""
import ctypes

import pytest
import torch

from aiter import simt
from test_quant_convert import KINDS, LOW_HALVES, as_float, torch_reference


def grid():
    hi = torch.arange(65536, dtype=torch.int64) << 16
    return as_float(torch.cat([hi | lo for lo in LOW_HALVES]))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_narrowing_and_widening_match_torch(dtype):
    lib = ctypes.CDLL(simt.library(64))
    bf16 = int(dtype == torch.bfloat16)
    x = grid()
    out = torch.empty(x.numel(), dtype=torch.int16)
    lib.aiter_simt_narrow(bf16, ctypes.c_void_p(x.data_ptr()), ctypes.c_void_p(out.data_ptr()),
                          ctypes.c_int64(x.numel()))
    want = x.to(dtype)
    got = out.view(dtype)
    nan = want.isnan()
    assert torch.equal(got[~nan].view(torch.int16), want[~nan].view(torch.int16)), "a rounding differs from torch's"
    assert bool(got[nan].isnan().all()), "NaN did not stay NaN"
    assert torch.equal(got[nan].view(torch.int16) < 0, x[nan].view(torch.int32) < 0), "NaN lost its sign"
    every = torch.arange(65536, dtype=torch.int32).to(torch.int16)
    wide = torch.empty(65536, dtype=torch.float32)
    lib.aiter_simt_widen(bf16, ctypes.c_void_p(every.data_ptr()), ctypes.c_void_p(wide.data_ptr()),
                         ctypes.c_int64(65536))
    ref = every.view(dtype).float()
    finite = ~ref.isnan()
    assert torch.equal(wide[finite], ref[finite]) and bool(wide[~finite].isnan().all())


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("target", ["gfx942", "warp32"])
def test_kernel_encoders_match_torch(target, kind):
    x = grid()
    with simt.executor(target):
        got = simt.quantize_bytes(x, kind)
        r = simt.report()
    assert r["launches"] == 1 and simt.fault_count(r) == 0, r["messages"]
    ref = torch_reference(x, KINDS[kind])
    bad = got != ref
    assert not bool(bad.any()), f"{kind}: {int(bad.sum())} mismatches, e.g. {x[bad][:4].tolist()}"
