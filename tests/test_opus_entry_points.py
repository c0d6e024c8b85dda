"""upstream's *_opus entry points over the layout matrix: each equals its
counterpart bit for bit (the same registered op and kernels) and the float64
reference of the views' logical values; storage outside the views stays
untouched and no stride-1 view takes the gather fallback. Then every new
entry point (opus and fused Q/K) under torch.compile(fullgraph=True),
bitwise against eager."""
import pytest
import torch

import aiter
from helpers import (
    assert_matches,
    assert_quant_matches,
    canaried,
    out_view,
    prologue_sum,
    reference_rmsnorm,
)
from layouts import OUTPUT_LAYOUT_FOR, ZERO_COPY_LAYOUTS

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
HIDDEN = [7, 128, 769]
N = 3
EPS = 1e-6


def quant_out(shape, device):
    return torch.empty(shape, dtype=torch.int8, device=device), torch.empty(*shape[:-1], 1, device=device)


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", list(ZERO_COPY_LAYOUTS))
def test_opus_layouts(device, layout, dtype, hidden):
    gen = torch.Generator().manual_seed(hidden + DTYPES.index(dtype))
    build, out_build = ZERO_COPY_LAYOUTS[layout], OUTPUT_LAYOUT_FOR[layout]
    x, r = canaried(build, N, hidden, dtype, device, gen), canaried(build, N, hidden, dtype, device, gen)
    w = torch.randn(hidden, generator=gen).to(dtype).to(device)
    xs = (torch.rand(hidden, generator=gen) + 0.5).to(device)

    # rms_norm_opus: model_sensitive, then gemma_norm (rmsnorm's order is the other way).
    out = out_view(out_build, N, hidden, dtype, device)
    aiter.rms_norm_opus(out.view, x.view, w, EPS, 0, True)
    want = torch.empty_like(x.view)
    aiter.rmsnorm(want, x.view, w, EPS, True)
    assert torch.equal(out.view, want) and out.untouched_outside()
    assert_matches(out.view, reference_rmsnorm(x.view, w, EPS, gemma=True), dtype, f"rms_norm_opus {layout}")

    got = aiter.rmsnorm2d_fwd_opus(x.view, w, EPS, 1)
    assert got.is_contiguous() and torch.equal(got, aiter.rmsnorm2d_fwd(x.view, w, EPS, 1))

    # The fused add, out of place and in place.
    out, r_out = out_view(out_build, N, hidden, dtype, device), out_view(out_build, N, hidden, dtype, device)
    aiter.rmsnorm2d_fwd_with_add_opus(out.view, x.view, r.view, r_out.view, w, EPS, 1, True)
    want, want_sum = torch.empty_like(x.view), torch.empty_like(x.view)
    aiter.rmsnorm2d_fwd_with_add(want, x.view, r.view, want_sum, w, EPS, True, 1)
    assert torch.equal(out.view, want) and torch.equal(r_out.view, want_sum)
    assert torch.equal(r_out.view, prologue_sum(x.view, r.view).to(dtype))
    assert out.untouched_outside() and r_out.untouched_outside()
    if layout != "expanded":  # written in place: not a stride-0 view
        xi, ri = canaried(build, N, hidden, dtype, device, gen), canaried(build, N, hidden, dtype, device, gen)
        xc, rc = xi.view.clone(), ri.view.clone()
        aiter.fused_add_rms_norm_opus(xi.view, ri.view, w, EPS)
        aiter.fused_add_rms_norm_cu(xc, rc, w, EPS)
        assert torch.equal(xi.view, xc) and torch.equal(ri.view, rc)
        assert xi.untouched_outside() and ri.untouched_outside()

    # The quantising four, against their counterparts (int8 codes and scales).
    pairs = [
        (lambda o, s: aiter.rmsnorm2d_fwd_with_dynamicquant_opus(o, x.view, s, w, EPS),
         lambda o, s: aiter.rmsnorm2d_fwd_with_dynamicquant(o, x.view, s, w, EPS)),
        (lambda o, s: aiter.rmsnorm2d_fwd_with_smoothquant_opus(o, x.view, xs, s, w, EPS, 1),
         lambda o, s: aiter.rmsnorm2d_fwd_with_smoothquant(o, x.view, xs, s, w, EPS, 1)),
        (lambda o, s: aiter.rmsnorm2d_fwd_with_add_dynamicquant_opus(o, x.view, r.view, torch.empty_like(x.view), s,
                                                                     w, EPS),
         lambda o, s: aiter.rmsnorm2d_fwd_with_add_dynamicquant(o, x.view, r.view, torch.empty_like(x.view), s, w,
                                                                EPS)),
        (lambda o, s: aiter.rmsnorm2d_fwd_with_add_smoothquant_opus(o, x.view, r.view, torch.empty_like(x.view), xs,
                                                                    s, w, EPS),
         lambda o, s: aiter.rmsnorm2d_fwd_with_add_smoothquant(o, x.view, r.view, torch.empty_like(x.view), xs, s,
                                                               w, EPS)),
    ]
    for i, (opus, counterpart) in enumerate(pairs):
        (a, sa), (b, sb) = quant_out(x.view.shape, device), quant_out(x.view.shape, device)
        opus(a, sa)
        counterpart(b, sb)
        assert torch.equal(a, b) and torch.equal(sa, sb), f"quantising opus #{i} {layout}"
    q8, s8 = quant_out(x.view.shape, device)
    aiter.rmsnorm2d_fwd_with_add_dynamicquant_opus(q8, x.view, r.view, torch.empty_like(x.view), s8, w, EPS)
    y64 = reference_rmsnorm(prologue_sum(x.view, r.view), w, EPS)
    assert_quant_matches(q8, s8, y64, torch.int8, 0, f"add_dynamicquant_opus {layout}")
    assert x.unchanged() and r.unchanged(), "an input changed"
    assert aiter.gather_fallback_count() == 0


# ------------------------------------------------------------ torch.compile(fullgraph=True)
def _opus_block(x, r, w, xs):
    out = torch.empty_like(x)
    aiter.rms_norm_opus(out, x, w, EPS, 0, True)
    fresh = aiter.rmsnorm2d_fwd_opus(x, w, EPS)
    o2, r2 = torch.empty_like(x), torch.empty_like(x)
    aiter.rmsnorm2d_fwd_with_add_opus(o2, x, r, r2, w, EPS)
    q8, s8 = torch.empty(x.shape, dtype=torch.int8, device=x.device), torch.empty(x.shape[0], 1, device=x.device)
    aiter.rmsnorm2d_fwd_with_add_smoothquant_opus(q8, x, r, torch.empty_like(x), xs, s8, w, EPS)
    xi, ri = x + 1, r * 2
    aiter.fused_add_rms_norm_opus(xi, ri, w, EPS)
    return out, fresh, o2, r2, q8, s8, xi, ri


def _fused_qk_block(qkv, wq, wk, res):
    q, k = qkv[:, :64], qkv[:, 64:96]
    q_out, k_out, r_out = torch.empty_like(q), torch.empty_like(k), torch.empty_like(q)
    aiter.fused_qk_rmsnorm(q_out, None, q, wq, EPS, None, k_out, r_out, k, wk, 1e-5, res, gemma_norm=True)
    q8 = torch.empty(q.shape, dtype=torch.int8, device=q.device)
    scale = torch.empty(q.shape[0], 2, device=q.device)
    unq = torch.empty_like(q)
    k2 = torch.empty_like(k)
    aiter.fused_qk_rmsnorm_group_quant(q8, scale, q, wq, EPS, unq, k2, None, k, wk, group_size=32,
                                       transpose_scale=True)
    s1 = torch.empty(q.shape[0], 1, device=q.device)
    p8 = torch.empty(q.shape, dtype=torch.int8, device=q.device)
    aiter.fused_qk_rmsnorm_per_token_quant(p8, s1, q, wq, EPS)
    return q_out, k_out, r_out, q8, scale, unq, k2, p8, s1


@pytest.mark.parametrize("block", ["opus", "fused_qk"])
def test_new_entry_points_compile_fullgraph(device, block):
    gen = torch.Generator().manual_seed(0)
    rand = lambda *s: torch.randn(*s, generator=gen).to(torch.bfloat16).to(device)  # noqa: E731
    if block == "opus":
        fn, args = _opus_block, (rand(5, 96)[:, :64], rand(5, 64), rand(64), (torch.rand(64) + 0.5).to(device))
    else:
        fn, args = _fused_qk_block, (rand(5, 104), rand(64), rand(32), rand(5, 64))
    torch._dynamo.reset()
    compiled = torch.compile(fn, fullgraph=True)
    for got, want in zip(compiled(*args), fn(*args)):
        assert torch.equal(got, want)
