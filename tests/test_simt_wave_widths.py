"""One input, run by the CPU SIMT executor with 64-lane waves (gfx942) and
with 32-lane warps: the two results are compared bit for bit.

Same math, different reduction order. A row's sums are reduced with xor
shuffles over its lanes and, for rows wider than a wave, across the block's
waves. Where both targets give the row the same lanes and vectors per thread,
and the lanes fit in 32, the shuffle sequence is the same (group_reduce skips
the offsets at or past the row's width), so the bits must be equal. Otherwise
the additions associate differently (64-lane waves add lanes 32 apart first;
a 128-lane row is two waves' partials there and four warps' here, and rows of
33-64 vectors are one wave's short row at wave64 but a long row with several
vectors a thread at warp32): the fp32 statistics differ in their last bits,
and so may the outputs: by one rounding step of a 16-bit output at most, and
for fp32 outputs by the fp32 error budget the references allow
(helpers.fp32_rtol: 16 + 4 sqrt(hidden) ulps)."""
import pytest
import torch

import aiter
from aiter import _C, simt
from helpers import assert_matches, fp32_rtol, reference_rmsnorm
from simt_cases import EPS, run

CASES = [  # (hidden, rows, layout)
    (64, 7, "dense"), (128, 7, "qk"), (256, 5, "dense"), (512, 5, "dense"), (769, 3, "dense"),
    (1024, 3, "dense"), (4096, 3, "dense"), (4096, 400, "dense"), (8192, 2, "dense"), (128, 600, "qk"),
]


def views(hidden, rows, layout, dtype, gen):
    if layout == "qk":  # Q slice of a packed QKV buffer
        buf = torch.randn(rows, 12, hidden, generator=gen).to(dtype)
        return buf[:, :8]
    return torch.randn(rows, hidden, generator=gen).to(dtype)


def config(x, target):
    t = simt.TARGETS[target]
    sim = _C.simulate_launch(torch.empty_like(x), x, torch.zeros(x.shape[-1], dtype=x.dtype), warp_size=t.warp,
                             sm_count=t.cus, max_threads_per_sm=t.threads_per_cu, walk=False)
    c = sim["config"]
    return c["lanes"], c["chunks"], c["vec"], c["split"]


def ulp_steps(a, b, dtype):
    """|a - b| in rounding steps of dtype at the larger magnitude."""
    a, b = a.double(), b.double()
    step = torch.finfo(dtype).eps * torch.maximum(a.abs(), b.abs()).clamp_min(torch.finfo(dtype).tiny)
    return ((a - b).abs() / step).max().item()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("hidden,rows,layout", CASES)
def test_wave64_and_warp32_results(hidden, rows, layout, dtype):
    gen = torch.Generator().manual_seed(hidden + rows)
    x = views(hidden, rows, layout, dtype, gen)
    w = torch.randn(hidden, generator=gen).to(dtype)
    r = views(hidden, rows, layout, dtype, gen)
    got = {}
    for target in ("gfx942", "warp32"):
        y, _ = run(target, aiter.rms_norm, x, w, EPS)
        out, r_out = torch.empty_like(x), torch.empty_like(r)
        run(target, aiter.rmsnorm2d_fwd_with_add, out, x, r, r_out, w, EPS)
        got[target] = (y, out, r_out)
        assert_matches(y, reference_rmsnorm(x, w, EPS), dtype, f"rms_norm on {target}")
    (y64, o64, s64), (y32, o32, s32) = got["gfx942"], got["warp32"]
    assert torch.equal(s64, s32), "residual_out is a rounded sum: no reduction, no difference"
    same_order = config(x, "gfx942") == config(x, "warp32") and config(x, "gfx942")[0] <= 32
    if same_order:
        assert torch.equal(y64, y32) and torch.equal(o64, o32), "same lanes and shuffles, different bits"
    else:
        bound = fp32_rtol(hidden) / 2.0 ** -24 if dtype == torch.float32 else 1
        assert ulp_steps(y64, y32, dtype) <= bound and ulp_steps(o64, o32, dtype) <= bound
