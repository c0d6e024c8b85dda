"""The float -> int8 / fp8 e4m3fn / fp8 e4m3fnuz encoders against torch's own
casts: csrc/include/quant_convert.h (the CPU backend's) on the CPU, and on
the GPU the kernels' own (encode_values: a PTX conversion for int8, the
hardware pair conversion for e4m3fn on sm_89+, quant_convert.h otherwise).

Every float32 bit pattern's upper 16 bits (sign, exponent, 7 mantissa bits:
every binade and every rounding position the formats use) is combined with
low halves that hit the rounding cases: exact, just above / below a tie, the
tie itself and all-ones sticky bits. AITER_EXHAUSTIVE_QUANT=1 checks all 2^32
patterns instead (a minute or so)."""
import os

import pytest
import torch

from aiter import _C
from helpers import QMAX

LOW_HALVES = [0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x4000, 0xC000, 0x1234, 0xEDCB]
KINDS = {"int8": torch.int8, "e4m3fn": torch.float8_e4m3fn, "e4m3fnuz": torch.float8_e4m3fnuz}


def as_float(bits64):
    bits = torch.where(bits64 >= 2**31, bits64 - 2**32, bits64).to(torch.int32)
    return bits.view(torch.float32)


def torch_reference(x, dtype):
    """torch's cast after saturating; NaN: 0 for int8, the format's NaN for fp8."""
    if dtype == torch.int8:  # the full int8 range (the quant scale maps to +-127)
        ref = torch.round(torch.nan_to_num(x.clamp(-128, 127), nan=0.0)).to(torch.int8)
    else:
        ref = x.clamp(-QMAX[dtype], QMAX[dtype]).to(dtype)
    return ref.view(torch.uint8)


def check(x, kind, device="cpu"):
    dtype = KINDS[kind]
    ours = _C.quantize_bytes(x.to(device), kind).cpu()
    ref = torch_reference(x, dtype)
    bad = ours != ref
    assert not bool(bad.any()), (
        f"{kind}: {int(bad.sum())} mismatches, e.g. {x[bad][:4].tolist()} -> ours "
        f"{ours[bad][:4].tolist()} torch {ref[bad][:4].tolist()}"
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_upper_half_with_rounding_low_halves(kind, device):
    hi = torch.arange(65536, dtype=torch.int64) << 16
    x = as_float(torch.cat([hi | lo for lo in LOW_HALVES]))
    check(x, kind, device)


@pytest.mark.parametrize("kind", ["e4m3fn", "e4m3fnuz"])
def test_every_code_and_every_midpoint(kind, device):
    """Each representable value, its neighbours' midpoints (ties to even) and
    one float32 ulp either side of each midpoint."""
    dtype = KINDS[kind]
    values = torch.arange(256, dtype=torch.uint8).view(dtype).float()
    values = values[values.isfinite()].unique()
    mids = (values[1:] + values[:-1]) / 2
    x = torch.cat([values, mids, torch.nextafter(mids, torch.full_like(mids, float("inf"))),
                   torch.nextafter(mids, torch.full_like(mids, -float("inf"))),
                   torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), -float("nan"),
                                 1e30, -1e30])])
    check(x, kind, device)
    # Saturation: beyond the largest finite value, the largest finite value.
    big = torch.tensor([QMAX[dtype] * 1.01, 1e9, float("inf")])
    for sign in (1, -1):
        got = _C.quantize_bytes((sign * big).to(device), kind).cpu()
        assert torch.equal(got.view(dtype).float(), torch.full((3,), sign * QMAX[dtype]))


def test_int8_ties_round_to_even_and_saturate(device):
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 127.5, 200.0, -128.5, -300.0, float("nan")])
    got = _C.quantize_bytes(x.to(device), "int8").cpu().view(torch.int8).tolist()
    assert got == [0, 2, 2, 0, -2, -2, 126, 127, 127, -128, -128, 0]


@pytest.mark.skipif(os.environ.get("AITER_EXHAUSTIVE_QUANT") != "1", reason="set AITER_EXHAUSTIVE_QUANT=1")
@pytest.mark.parametrize("kind", list(KINDS))
def test_all_float32_bit_patterns(kind, device):
    step = 1 << 24
    for start in range(0, 1 << 32, step):
        check(as_float(torch.arange(start, start + step, dtype=torch.int64)), kind, device)
