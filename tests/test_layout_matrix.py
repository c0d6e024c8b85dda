"""Every zero-copy layout x dtype x hidden x rows, for the plain and the fused
residual op, against the float64 reference; storage outside the views must be
bitwise untouched and no call may take the gather fallback."""
import pytest
import torch

import aiter
from helpers import assert_matches, canaried, out_view, reference_add_rmsnorm, reference_rmsnorm
from layouts import OUTPUT_LAYOUT_FOR, ZERO_COPY_LAYOUTS, contiguous_like

HIDDEN = [1, 7, 64, 128, 769, 4096, 8193, 16384]
ROWS = [0, 1, 3, 257]
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
EPS = 1e-6


@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", list(ZERO_COPY_LAYOUTS))
@pytest.mark.parametrize("strided_out", [False, True], ids=["dense_out", "strided_out"])
def test_rms_norm_layouts(device, layout, dtype, hidden, n, strided_out):
    gen = torch.Generator().manual_seed(hidden * 1000 + n)
    x = canaried(ZERO_COPY_LAYOUTS[layout], n, hidden, dtype, device, gen)
    w = torch.randn(hidden, generator=gen).to(dtype).to(device)
    if strided_out:
        out = out_view(OUTPUT_LAYOUT_FOR[layout], n, hidden, dtype, device)
        aiter.rmsnorm(out.view, x.view, w, EPS)
        result = out.view
        assert out.untouched_outside(), "wrote outside the output view"
    else:
        result = aiter.rms_norm(x.view, w, EPS)
        assert result.shape == x.view.shape and result.is_contiguous()
    assert_matches(result, reference_rmsnorm(x.view, w, EPS), dtype, f"rms_norm {layout}")
    assert x.unchanged(), "input storage changed"
    assert aiter.gather_fallback_count() == 0, "a stride-1 view took the gather fallback"


@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", list(ZERO_COPY_LAYOUTS))
@pytest.mark.parametrize("strided_out", [False, True], ids=["dense_out", "strided_out"])
def test_add_rms_norm_layouts(device, layout, dtype, hidden, n, strided_out):
    gen = torch.Generator().manual_seed(hidden * 1000 + n + 7)
    builder = ZERO_COPY_LAYOUTS[layout]
    out_builder = OUTPUT_LAYOUT_FOR[layout] if strided_out else contiguous_like(builder)
    x = canaried(builder, n, hidden, dtype, device, gen)
    r = canaried(builder, n, hidden, dtype, device, gen)
    w = torch.randn(hidden, generator=gen).to(dtype).to(device)
    out = out_view(out_builder, n, hidden, dtype, device)
    r_out = out_view(out_builder, n, hidden, dtype, device)
    aiter.rmsnorm2d_fwd_with_add(out.view, x.view, r.view, r_out.view, w, EPS)
    want_out, want_sum = reference_add_rmsnorm(x.view, r.view, w, EPS)
    assert torch.equal(r_out.view, want_sum.to(dtype)), "residual_out is not the rounded sum"
    assert_matches(out.view, want_out, dtype, f"add_rmsnorm {layout}")
    assert x.unchanged() and r.unchanged(), "input storage changed"
    assert out.untouched_outside() and r_out.untouched_outside(), "wrote outside an output view"
    assert aiter.gather_fallback_count() == 0, "a stride-1 view took the gather fallback"
