"""The norm family (dynamic/smooth-quant RMSNorm, LayerNorm, fused Q/K) over
the layout matrix, against float64 references computed from the views'
logical values: storage outside every view (outputs and scales included) is
bitwise untouched, inputs are unchanged, and no stride-1 view takes the
gather fallback."""
import pytest
import torch

import aiter
from helpers import (
    gpu_warp,
    CanariedView,
    QUANT_DTYPES,
    assert_matches,
    assert_quant_matches,
    canaried,
    layernorm_y_atol,
    out_view,
    prologue_sum,
    reference_layernorm,
    reference_rmsnorm,
    span,
)
from layouts import contiguous_like, dense, odd_offset, permuted4d, qk3d_q, row_strided

LAYOUTS = {f.__name__: f for f in (dense, row_strided, qk3d_q, permuted4d, odd_offset)}
HIDDEN = [1, 7, 769, 4096, 8193]
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
N = 3
EPS = 1e-6


def scale_view(lead, groups, device, flat):
    """A canaried fp32 scale: input.shape[:-1] + (groups,), or upstream's (rows, groups)."""
    rows = 1
    for s in lead:
        rows *= s
    shape = (rows, groups) if flat else tuple(lead) + (groups,)
    stride, step = [], 1
    for size in reversed(shape):
        stride.insert(0, step)
        step *= max(size, 1)
    return CanariedView(shape, tuple(stride), 2, span(shape, stride, 2) + 3, torch.float32, device)


def param(h, dtype, device, gen, offset=0.0):
    return (torch.randn(h, generator=gen) + offset).to(dtype).to(device)


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("add", [False, True], ids=["plain", "fused_add"])
def test_dynamic_quant_layouts(device, layout, dtype, hidden, add):
    gen = torch.Generator().manual_seed(hidden * 31 + add)
    qdtype = QUANT_DTYPES[(hidden + DTYPES.index(dtype)) % 3]  # each format over the matrix
    build = LAYOUTS[layout]
    x = canaried(build, N, hidden, dtype, device, gen)
    w = param(hidden, dtype, device, gen)
    out = out_view(build, N, hidden, qdtype, device)
    lead = x.view.shape[:-1]
    ys = scale_view(lead, 1, device, flat=hidden % 2 == 0)
    if add:
        r = canaried(build, N, hidden, dtype, device, gen)
        r_out = out_view(contiguous_like(build), N, hidden, dtype, device)
        aiter.rmsnorm2d_fwd_with_add_dynamicquant(out.view, x.view, r.view, r_out.view, ys.view, w, EPS)
        s64 = prologue_sum(x.view, r.view)
        assert torch.equal(r_out.view, s64.to(dtype)), "residual_out is not the rounded sum"
        assert r.unchanged() and r_out.untouched_outside()
    else:
        aiter.rmsnorm2d_fwd_with_dynamicquant(out.view, x.view, ys.view, w, EPS)
        s64 = x.view.double()
    y64 = reference_rmsnorm(s64, w, EPS)
    assert_quant_matches(out.view, ys.view, y64, qdtype, 0, f"dynamicquant {layout} {qdtype}")
    assert x.unchanged() and out.untouched_outside() and ys.untouched_outside()
    assert aiter.gather_fallback_count() == 0


@pytest.mark.parametrize("group_size", [16, 64, 128])
@pytest.mark.parametrize("qdtype", QUANT_DTYPES, ids=str)
@pytest.mark.parametrize("layout", ["dense", "qk3d_q", "odd_offset"])
@pytest.mark.parametrize("shuffle", [False, True], ids=["row_major", "shuffled"])
def test_group_quant(device, layout, qdtype, group_size, shuffle):
    gen = torch.Generator().manual_seed(group_size)
    hidden, dtype = 256, torch.bfloat16
    build = LAYOUTS[layout]
    x = canaried(build, N, hidden, dtype, device, gen)
    w = param(hidden, dtype, device, gen)
    out = out_view(build, N, hidden, qdtype, device)
    lead = x.view.shape[:-1]
    groups = hidden // group_size
    ys = scale_view(lead, groups, device, flat=True)
    if layout == "odd_offset" and group_size > gpu_warp(device) > 0:
        # The GPU's scalar path reduces groups of at most a warp's width.
        with pytest.raises(ValueError, match="group_size"):
            aiter.rmsnorm_quant(out.view, x.view, ys.view, w, EPS, group_size, shuffle)
        assert out.unchanged() and ys.unchanged()
        return
    aiter.rmsnorm_quant(out.view, x.view, ys.view, w, EPS, group_size, shuffle)
    y64 = reference_rmsnorm(x.view, w, EPS)
    scales = ys.view
    if shuffle:  # group-major: group g of row r at flat index g * rows + r
        scales = scales.reshape(-1).reshape(groups, -1).t()
    assert_quant_matches(out.view, scales.reshape(*lead, groups), y64, qdtype, group_size, f"group {layout}")
    assert x.unchanged() and out.untouched_outside() and ys.untouched_outside()


@pytest.mark.parametrize("hidden", [7, 769, 4096])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", ["dense", "row_strided", "qk3d_q", "permuted4d"])
@pytest.mark.parametrize("add", [False, True], ids=["plain", "fused_add"])
def test_smooth_quant_layouts(device, layout, dtype, hidden, add):
    gen = torch.Generator().manual_seed(hidden * 7 + add)
    qdtype = QUANT_DTYPES[hidden % 3]
    build = LAYOUTS[layout]
    x = canaried(build, N, hidden, dtype, device, gen)
    w = param(hidden, dtype, device, gen)
    xscale = (torch.rand(2 * hidden, generator=gen) + 0.5).to(device)[::2]  # strided fp32
    out = out_view(build, N, hidden, qdtype, device)
    ys = scale_view(x.view.shape[:-1], 1, device, flat=False)
    if add:
        r = canaried(build, N, hidden, dtype, device, gen)
        r_out = out_view(build, N, hidden, dtype, device)
        before = out_view(build, N, hidden, dtype, device)
        aiter.rmsnorm2d_fwd_with_add_smoothquant(out.view, x.view, r.view, r_out.view, xscale, ys.view, w, EPS,
                                                 out_before_quant=before.view)
        s64 = prologue_sum(x.view, r.view)
        assert torch.equal(r_out.view, s64.to(dtype))
        assert r_out.untouched_outside() and before.untouched_outside()
    else:
        aiter.rmsnorm2d_fwd_with_smoothquant(out.view, x.view, xscale, ys.view, w, EPS)
        s64 = x.view.double()
    y64 = reference_rmsnorm(s64, w, EPS) * xscale.double()
    if add:
        assert_matches(before.view, y64, dtype, "out_before_quant")
    assert_quant_matches(out.view, ys.view, y64, qdtype, 0, f"smoothquant {layout}")
    assert x.unchanged() and out.untouched_outside() and ys.untouched_outside()
    assert aiter.gather_fallback_count() == 0


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("mode", ["plain", "x_bias", "fused_add", "no_affine"])
def test_layernorm_layouts(device, layout, dtype, hidden, mode):
    gen = torch.Generator().manual_seed(hidden * 13 + len(mode))
    build = LAYOUTS[layout]
    # An offset mean: the variance must not cancel.
    x = canaried(build, N, hidden, dtype, device, gen, scale=1.0)
    x.storage[x.mask] += 4.0
    x.snapshot = x.storage.clone()
    w, b = param(hidden, dtype, device, gen, 1.0), param(hidden, dtype, device, gen)
    xb = param(hidden, dtype, device, gen) if mode in ("x_bias", "fused_add") else None
    if mode == "no_affine":
        got = aiter.layer_norm(x.view, epsilon=1e-5)
        want = reference_layernorm(x.view.double(), None, None, 1e-5)
    elif mode == "fused_add":
        r = canaried(build, N, hidden, dtype, device, gen)
        out = out_view(build, N, hidden, dtype, device)
        r_out = out_view(contiguous_like(build), N, hidden, dtype, device)
        aiter.layernorm2d_fwd_with_add(out.view, x.view, r.view, r_out.view, w, b, 1e-5, x_bias=xb)
        s64 = prologue_sum(x.view, r.view, xb)
        assert torch.equal(r_out.view, s64.to(dtype)), "residual_out is not input + x_bias + residual_in"
        assert out.untouched_outside() and r_out.untouched_outside() and r.unchanged()
        got, want = out.view, reference_layernorm(s64, w, b, 1e-5)
    else:
        got = aiter.layernorm2d_fwd(x.view, w, b, 1e-5, xb)
        want = reference_layernorm(prologue_sum(x.view, None, xb), w, b, 1e-5)
        assert got.is_contiguous() and got.shape == x.view.shape
    assert_matches(got, want, dtype, f"layernorm {mode} {layout}")
    assert x.unchanged()
    assert aiter.gather_fallback_count() == 0


@pytest.mark.parametrize("hidden", [7, 769, 4096])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", ["dense", "qk3d_q", "odd_offset"])
@pytest.mark.parametrize("add", [False, True], ids=["plain", "fused_add"])
def test_layernorm_smoothquant(device, layout, dtype, hidden, add):
    gen = torch.Generator().manual_seed(hidden + add)
    qdtype = QUANT_DTYPES[(hidden + add) % 3]
    build = LAYOUTS[layout]
    x = canaried(build, N, hidden, dtype, device, gen)
    w, b, xb = (param(hidden, dtype, device, gen) for _ in range(3))
    xscale = (torch.rand(hidden, generator=gen) + 0.5).to(device)
    out = out_view(build, N, hidden, qdtype, device)
    ys = scale_view(x.view.shape[:-1], 1, device, flat=True)
    if add:
        r = canaried(build, N, hidden, dtype, device, gen)
        r_out = out_view(build, N, hidden, dtype, device)
        aiter.layernorm2d_fwd_with_add_smoothquant(out.view, x.view, r.view, r_out.view, xscale, ys.view, w, b,
                                                   1e-5, xb)
        s64 = prologue_sum(x.view, r.view, xb)
        assert torch.equal(r_out.view, s64.to(dtype))
    else:
        aiter.layernorm2d_fwd_with_smoothquant(out.view, x.view, xscale, ys.view, w, b, 1e-5, xb)
        s64 = prologue_sum(x.view, None, xb)
    y64 = reference_layernorm(s64, w, b, 1e-5) * xscale.double()
    assert_quant_matches(out.view, ys.view.reshape(x.view.shape[:-1] + (1,)), y64, qdtype, 0, "ln smoothquant",
                         y_atol=layernorm_y_atol(s64, w, xscale))
    assert x.unchanged() and out.untouched_outside() and ys.untouched_outside()
    assert aiter.gather_fallback_count() == 0


def test_seed_slice_quant_and_layernorm(device):
    """The seed view (T, 32, 128) stride (6144, 128, 1) of a packed QKV buffer."""
    gen = torch.Generator().manual_seed(1)
    T = 64
    qkv = torch.randn(T, 6144, generator=gen).bfloat16().to(device)
    snap = qkv.clone()
    q = qkv[:, :4096].view(T, 32, 128)
    w = param(128, torch.bfloat16, device, gen)
    out = torch.empty(T, 32, 128, dtype=torch.float8_e4m3fn, device=device)
    ys = torch.empty(T, 32, device=device)
    aiter.rmsnorm2d_fwd_with_dynamicquant(out, q, ys, w, EPS)
    assert_quant_matches(out, ys.unsqueeze(-1), reference_rmsnorm(q, w, EPS), torch.float8_e4m3fn, 0, "seed quant")
    got = aiter.layer_norm(q, w, w, 1e-5)
    assert_matches(got, reference_layernorm(q.double(), w, w, 1e-5), torch.bfloat16, "seed layernorm")
    assert torch.equal(qkv, snap)
    assert aiter.gather_fallback_count() == 0


def test_quant_zero_row_gets_zero_scale_and_codes(device):
    x = torch.zeros(2, 64, device=device)
    x[1] = torch.linspace(-1, 1, 64)
    out = torch.full((2, 64), 5, dtype=torch.int8, device=device)
    ys = torch.full((2, 1), 9.0, device=device)
    aiter.rmsnorm2d_fwd_with_dynamicquant(out, x, ys, torch.ones(64, device=device), EPS)
    assert ys[0].item() == 0.0 and not out[0].any()
    assert out[1].abs().max().item() == 127 and ys[1].item() > 0


def test_non_collapsible_scale_is_gathered_and_counted(device):
    """A per-token scale whose row dims do not collapse into kMaxRowDims takes
    the counted gather fallback (and strict mode refuses it)."""
    x = torch.randn(3, 3, 3, 3, 3, 16, device=device)
    big = torch.zeros(4, 4, 4, 4, 4, 2, device=device)
    ys = big[:3, :3, :3, :3, :3, 0]  # 5 row dims with gaps: none collapse
    assert not ys.is_contiguous()
    out = torch.empty(x.shape, dtype=torch.int8, device=device)
    aiter.set_strict_layout(True)
    with pytest.raises(ValueError, match="yscale"):
        aiter.rmsnorm2d_fwd_with_dynamicquant(out, x, ys, torch.ones(16, device=device), EPS)
    aiter.set_strict_layout(False)
    aiter.rmsnorm2d_fwd_with_dynamicquant(out, x, ys, torch.ones(16, device=device), EPS)
    assert aiter.gather_fallback_count() == 1
    y64 = reference_rmsnorm(x, torch.ones(16, device=device), EPS)
    assert_quant_matches(out, ys.unsqueeze(-1), y64, torch.int8, 0, "gathered scale")
    written = torch.zeros_like(big, dtype=torch.bool)
    written[:3, :3, :3, :3, :3, 0] = True
    assert not big[~written].any(), "wrote outside the scale view"
