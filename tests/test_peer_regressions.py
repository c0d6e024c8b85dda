"""One regression test per failure class seen in peer RMSNorm libraries."""
import pytest
import torch

import aiter
from aiter.layout import plan_rows
from helpers import CANARY, CanariedView, assert_matches, reference_add_rmsnorm, reference_rmsnorm, span

EPS = 1e-6


def rand(shape, dtype, device, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype).to(device)


def weight(h, dtype, device, seed=1):
    return (torch.rand(h, generator=torch.Generator().manual_seed(seed)) + 0.5).to(dtype).to(device)


def canaried(shape, stride, offset, dtype, device, seed=2):
    n = span(shape, stride, offset)
    count = 1
    for s in shape:
        count *= s
    values = torch.randn(count, generator=torch.Generator().manual_seed(seed)).to(dtype).to(device)
    return CanariedView(shape, stride, offset, n, dtype, device, values=values)


# 1. Leading dims that cannot be flattened: must be zero-copy and correct.
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_unflattenable_leading_dims_are_zero_copy(device, dtype):
    B, H, T, D = 2, 3, 5, 64
    base = rand((B, H, T, D), dtype, device)
    x = base.permute(0, 2, 1, 3)  # (B, T, H, D): leading dims do not collapse to one stride
    assert not x.is_contiguous() and x.stride(-1) == 1
    with pytest.raises(RuntimeError):
        x.view(-1, D)  # a peer's reshape/view would copy or fail here
    out_base = torch.full((B, H, T, D), CANARY, dtype=dtype, device=device)
    out = out_base.permute(0, 2, 1, 3)
    r_base = rand((B, H, T, D), dtype, device, seed=3)
    r = r_base.permute(0, 2, 1, 3)
    ro = torch.empty_like(r_base).permute(0, 2, 1, 3)
    w = weight(D, dtype, device)
    assert all(plan_rows(t).in_place for t in (x, out, r, ro))
    aiter.set_strict_layout(True)  # a gather would raise
    aiter.rms_norm_cu(out, x, w, EPS)
    assert_matches(out, reference_rmsnorm(x, w, EPS), dtype, "permuted out")
    o2 = torch.empty_like(out)
    aiter.add_rmsnorm(o2, x, r, ro, w, EPS)
    want, s = reference_add_rmsnorm(x, r, w, EPS)
    assert_matches(o2, want, dtype, "permuted add out")
    assert torch.equal(ro, s.to(dtype))
    assert aiter.gather_fallback_count() == 0


# 2. Row pitch taken from stride(0) or stride(-2) on a rank > 2 view.
@pytest.mark.parametrize(
    "shape, stride, offset",
    [
        ((4, 3, 64), (6 * 64, 64, 1), 64),  # base[:, 1:4, :]: stride(0) = 6 rows, stride(-2) = 1 row
        ((3, 4, 64), (64, 3 * 64, 1), 0),  # base.transpose(0, 1): stride(-2) > stride(0)
        ((2, 3, 2, 48), (600, 100, 50, 1), 7),  # three row dims, none equal to the row step
    ],
    ids=["slice-dim1", "swapped-row-dims", "three-row-dims"],
)
def test_rank3_row_pitch_is_per_dim(device, shape, stride, offset):
    dtype = torch.float32
    x = canaried(shape, stride, offset, dtype, device)
    o = CanariedView(shape, stride, offset, span(shape, stride, offset), dtype, device)
    w = weight(shape[-1], dtype, device)
    aiter.set_strict_layout(True)
    aiter.rms_norm_cu(o.view, x.view, w, EPS)
    want = reference_rmsnorm(x.view, w, EPS)
    # Row by row, so a wrong pitch shows up as a wrong row.
    for idx in torch.cartesian_prod(*[torch.arange(s) for s in shape[:-1]]).reshape(-1, len(shape) - 1).tolist():
        assert_matches(o.view[tuple(idx)], want[tuple(idx)], dtype, f"row {idx}")
    assert o.untouched_outside()
    assert x.unchanged()


# 3. Vector loads on a row pitch that is not a multiple of the vector width.
@pytest.mark.parametrize("pitch_extra, offset", [(1, 0), (3, 1), (7, 5), (9, 0)])
@pytest.mark.parametrize("hidden", [64, 1024])
def test_odd_pitch_bf16_vector_width(device, hidden, pitch_extra, offset):
    dtype = torch.bfloat16
    rows = 6
    shape, stride = (rows, hidden), (hidden + pitch_extra, 1)
    x = canaried(shape, stride, offset, dtype, device)
    r = canaried(shape, stride, offset + 2, dtype, device, seed=5)
    o = CanariedView(shape, stride, offset + 1, span(shape, stride, offset + 1), dtype, device)
    ro = CanariedView(shape, stride, offset + 3, span(shape, stride, offset + 3), dtype, device)
    w = weight(hidden, dtype, device)
    aiter.rmsnorm2d_fwd_with_add(o.view, x.view, r.view, ro.view, w, EPS)
    want, s = reference_add_rmsnorm(x.view, r.view, w, EPS)
    assert_matches(o.view, want, dtype, "odd pitch out")
    assert torch.equal(ro.view, s.to(dtype))
    assert o.untouched_outside() and ro.untouched_outside()
    assert x.unchanged() and r.unchanged()
    assert aiter.gather_fallback_count() == 0


# 4. 32-bit offset overflow: element offsets beyond 2**31 (byte offsets far beyond).
def _cuda_big_enough(gib):
    if not (torch.cuda.is_available() and aiter.gpu_backend_available()):
        return False
    free, _ = torch.cuda.mem_get_info()
    return free >= gib * 2**30


@pytest.mark.skipif(
    not _cuda_big_enough(10),
    reason="needs CUDA with >= 10 GiB free (a view spanning > 2**31 elements); runs on the H100",
)
def test_offsets_beyond_int32(request):
    dtype, hidden, rows = torch.bfloat16, 4096, 9
    pitch = 2**28  # row 8 starts at element 2**31
    n = (rows - 1) * pitch + 2 * hidden + 64
    try:
        a = torch.empty(n, dtype=dtype, device="cuda")  # input (offset 0) and residual_in (offset hidden)
        b = torch.empty(n, dtype=dtype, device="cuda")  # out (offset 0) and residual_out (offset hidden)
        x = a.as_strided((rows, hidden), (pitch, 1), 0)
        r = a.as_strided((rows, hidden), (pitch, 1), hidden)
        out = b.as_strided((rows, hidden), (pitch, 1), 0)
        ro = b.as_strided((rows, hidden), (pitch, 1), hidden)
        x.copy_(rand((rows, hidden), dtype, "cuda"))
        r.copy_(rand((rows, hidden), dtype, "cuda", seed=7))
        # Canaries right after each row's out/residual_out pair.
        guard = b.as_strided((rows, 64), (pitch, 1), 2 * hidden)
        guard.fill_(CANARY)
        w = weight(hidden, dtype, "cuda")
        assert x.storage_offset() + (rows - 1) * pitch >= 2**31

        aiter.set_strict_layout(True)
        aiter.rms_norm_cu(out, x, w, EPS)
        assert_matches(out, reference_rmsnorm(x, w, EPS), dtype, "out beyond 2**31")

        aiter.add_rmsnorm(out, x, r, ro, w, EPS)
        want, s = reference_add_rmsnorm(x, r, w, EPS)
        assert_matches(out, want, dtype, "add out beyond 2**31")
        assert torch.equal(ro, s.to(dtype))
        assert bool((guard == CANARY).all())
        # A 3-D view with the big stride on an outer row dim.
        x3 = a.as_strided((rows, 1, hidden), (pitch, hidden, 1), 0)
        y3 = aiter.rms_norm(x3, w, EPS)
        assert_matches(y3, reference_rmsnorm(x3, w, EPS), dtype, "3-d beyond 2**31")
        torch.cuda.synchronize()
    finally:
        a = b = x = r = out = ro = guard = None
        torch.cuda.empty_cache()


# 5. A residual or output assumed contiguous.
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_strided_residual_and_output(device, dtype):
    rows, hidden = 7, 128
    x = rand((rows, hidden), dtype, device)  # contiguous input: peers key the layout off it
    r = canaried((rows, hidden), (hidden + 32, 1), 5, dtype, device)
    o = CanariedView((rows, hidden), (3 * hidden, 1), hidden, rows * 3 * hidden, dtype, device)
    ro = CanariedView((rows, hidden), (2 * hidden, 1), 0, rows * 2 * hidden, dtype, device)
    w = weight(hidden, dtype, device)
    aiter.set_strict_layout(True)
    aiter.add_rmsnorm(o.view, x, r.view, ro.view, w, EPS)
    want, s = reference_add_rmsnorm(x, r.view, w, EPS)
    assert_matches(o.view, want, dtype, "strided out")
    assert torch.equal(ro.view, s.to(dtype))
    assert o.untouched_outside() and ro.untouched_outside() and r.unchanged()
    # In place on a strided residual (fused): residual is written back strided.
    x2 = x.clone()
    r2 = canaried((rows, hidden), (hidden + 32, 1), 5, dtype, device)
    aiter.fused_add_rms_norm_cu(x2, r2.view, w, EPS)
    assert torch.equal(r2.view, s.to(dtype))
    assert_matches(x2, want, dtype, "fused out")
    assert r2.untouched_outside()


# 6. An output allocated with the input's (transposed) strides.
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_output_with_transposed_strides(device, dtype):
    rows, hidden = 9, 64
    xt = rand((hidden, rows), dtype, device).t()  # (rows, hidden), stride (1, rows)
    w = weight(hidden, dtype, device)
    out = torch.empty_like(xt)  # empty_like keeps the transposed strides
    assert out.stride() == xt.stride()
    aiter.rms_norm_cu(out, xt, w, EPS)
    want = reference_rmsnorm(xt, w, EPS)
    assert_matches(out, want, dtype, "transposed out")
    assert aiter.gather_fallback_count() == 1  # input and out gathered in one call
    y = aiter.rms_norm(xt, w, EPS)
    assert y.is_contiguous()
    assert_matches(y, want, dtype, "allocated out")
    # A contiguous input into a transposed-stride output.
    x = rand((rows, hidden), dtype, device, seed=4)
    o2 = torch.empty(hidden, rows, dtype=dtype, device=device).t()
    aiter.rms_norm_cu(o2, x, w, EPS)
    assert_matches(o2, reference_rmsnorm(x, w, EPS), dtype, "contig -> transposed")


# 7. Odd hidden sizes corrupting row boundaries.
@pytest.mark.parametrize("hidden", [769, 8193, 1, 7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_odd_hidden_keeps_row_boundaries(device, dtype, hidden):
    rows, gap = 5, 3  # 3 canary elements between rows
    shape, stride = (rows, hidden), (hidden + gap, 1)
    x = canaried(shape, stride, 1, dtype, device)
    r = canaried(shape, stride, 0, dtype, device, seed=9)
    o = CanariedView(shape, stride, 2, span(shape, stride, 2), dtype, device)
    ro = CanariedView(shape, stride, 1, span(shape, stride, 1), dtype, device)
    w = weight(hidden, dtype, device)
    aiter.rms_norm_cu(o.view, x.view, w, EPS)
    assert_matches(o.view, reference_rmsnorm(x.view, w, EPS), dtype, f"hidden {hidden}")
    assert o.untouched_outside()
    aiter.add_rmsnorm(o.view, x.view, r.view, ro.view, w, EPS)
    want, s = reference_add_rmsnorm(x.view, r.view, w, EPS)
    assert_matches(o.view, want, dtype, f"add hidden {hidden}")
    assert torch.equal(ro.view, s.to(dtype))
    assert o.untouched_outside() and ro.untouched_outside()
    assert x.unchanged() and r.unchanged()
    assert aiter.gather_fallback_count() == 0
