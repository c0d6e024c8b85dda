"""The layout matrix on the CPU SIMT executor: RMSNorm and the fused
residual add over every zero-copy layout (the seed's strided Q/K slices,
row-strided and odd-pitch 2D, permuted 4D, size-1 and expanded dims,
misaligned starts), odd and long hidden sizes, launched as gfx942 plans them
(64-lane waves, 304 CUs; gfx90a too for the plain norm) and as a 32-lane
target does, against the float64 reference from the views' logical values.
Every launch reports 0 faults (shared races, out-of-bounds or unwritten
loads, stores to inputs, global races) and storage outside the views is
bitwise untouched."""
import pytest
import torch

import aiter
from helpers import assert_matches, canaried, out_view, reference_add_rmsnorm, reference_rmsnorm
from layouts import OUTPUT_LAYOUT_FOR, ZERO_COPY_LAYOUTS
from simt_cases import EPS, TARGETS, run

HIDDEN = [7, 128, 769, 4096]
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
N = 3


def seed_q(n, h):  # the seed: Qwen3's Q heads of a packed QKV buffer (32 q + 8 k + 8 v heads)
    return (n, 32, h), (48 * h, h, 1), 0


def seed_k(n, h):
    return (n, 8, h), (48 * h, h, 1), 32 * h


LAYOUTS = dict(ZERO_COPY_LAYOUTS, seed_q=seed_q, seed_k=seed_k)
OUT_FOR = dict(OUTPUT_LAYOUT_FOR, seed_q=seed_q, seed_k=seed_k)
# (layout, hidden): every layout at every hidden size; the seed's at its 128.
CASES = [(l, h) for l in LAYOUTS for h in HIDDEN if not l.startswith("seed") or h == 128]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout,hidden", CASES)
@pytest.mark.parametrize("target", TARGETS + ["gfx90a"])
def test_rms_norm(target, layout, dtype, hidden):
    gen = torch.Generator().manual_seed(hidden + len(layout))
    x = canaried(LAYOUTS[layout], N, hidden, dtype, "cpu", gen)
    w = torch.randn(hidden, generator=gen).to(dtype)
    out = out_view(OUT_FOR[layout], N, hidden, dtype, "cpu")
    run(target, aiter.rmsnorm, out.view, x.view, w, EPS)
    assert_matches(out.view, reference_rmsnorm(x.view, w, EPS), dtype, f"rmsnorm {layout} on {target}")
    assert x.unchanged() and out.untouched_outside()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout,hidden", CASES)
@pytest.mark.parametrize("target", TARGETS)
def test_fused_add(target, layout, dtype, hidden):
    gen = torch.Generator().manual_seed(hidden * 3 + len(layout))
    build = LAYOUTS[layout]
    out_build = OUT_FOR[layout]
    x = canaried(build, N, hidden, dtype, "cpu", gen)
    r = canaried(build, N, hidden, dtype, "cpu", gen)
    w = torch.randn(hidden, generator=gen).to(dtype)
    out = out_view(out_build, N, hidden, dtype, "cpu")
    r_out = out_view(out_build, N, hidden, dtype, "cpu")
    run(target, aiter.rmsnorm2d_fwd_with_add, out.view, x.view, r.view, r_out.view, w, EPS)
    want_out, want_sum = reference_add_rmsnorm(x.view, r.view, w, EPS)
    assert torch.equal(r_out.view, want_sum.to(dtype)), "residual_out is not the rounded sum"
    assert_matches(out.view, want_out, dtype, f"add_rmsnorm {layout} on {target}")
    assert x.unchanged() and r.unchanged() and out.untouched_outside() and r_out.untouched_outside()


@pytest.mark.parametrize("hidden", [128, 2048, 4096, 16384])
@pytest.mark.parametrize("n", [1, 3, 40])
@pytest.mark.parametrize("target", TARGETS)
def test_in_place(target, n, hidden):
    """In place (out is input; residual_out is residual_in), as vLLM's
    fused_add_rms_norm calls it, at decode sizes: the launches that spread a
    row over several blocks must not let one block's stores reach another's
    loads."""
    dtype = torch.bfloat16
    gen = torch.Generator().manual_seed(n * hidden)
    x = torch.randn(n, hidden, generator=gen).to(dtype)
    r = torch.randn(n, hidden, generator=gen).to(dtype)
    w = torch.randn(hidden, generator=gen).to(dtype)
    want_out, want_sum = reference_add_rmsnorm(x, r, w, EPS)
    run(target, aiter.fused_add_rms_norm_cu, x, r, w, EPS)
    assert torch.equal(r, want_sum.to(dtype))
    assert_matches(x, want_out, dtype, f"fused_add_rms_norm_cu in place on {target}")
    y = torch.randn(n, hidden, generator=gen).to(dtype)
    want = reference_rmsnorm(y, w, EPS)
    run(target, aiter.rms_norm_cu, y, y, w, EPS)
    assert_matches(y, want, dtype, f"rms_norm_cu in place on {target}")
