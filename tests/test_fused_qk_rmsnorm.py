"""upstream's fused Q/K entry points (fused_qk_rmsnorm, ..._per_token_quant,
..._group_quant) over the layout matrix, against float64 references of the
views' logical values: Q (+ residual) normalised, optionally quantised; K
normalised. Storage outside every view stays bitwise untouched, inputs are
unchanged and no stride-1 view takes the gather fallback. Then the modes one
by one: which launch runs, where each output goes, what is left alone."""
import pytest
import torch

import aiter
from aiter import QuantType
from helpers import (
    CanariedView,
    QUANT_DTYPES,
    assert_matches,
    assert_quant_matches,
    canaried,
    out_view,
    prologue_sum,
    reference_rmsnorm,
    span,
)
from layouts import OUTPUT_LAYOUT_FOR, ZERO_COPY_LAYOUTS, contiguous_like

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
DQ, DK = 64, 32
N = 3
EPS = 1e-6
GROUP = 32  # a group size every GPU path takes (the scalar path's groups are at most a warp wide)


def scale_buffer(rows, groups, device, transposed_view=False):
    """A canaried fp32 (rows, groups) scale: contiguous, or the transpose of a
    contiguous (groups, rows) tensor."""
    if transposed_view:
        shape, stride = (rows, groups), (1, rows)
    else:
        shape, stride = (rows, groups), (groups, 1)
    return CanariedView(shape, stride, 1, span(shape, stride, 1) + 3, torch.float32, device)


def weight(h, dtype, device, gen):
    return torch.randn(h, generator=gen).to(dtype).to(device)


MODES = ["no_quant", "no_quant_one_launch", "residual_gemma", "per_token", "group", "group_transposed"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", list(ZERO_COPY_LAYOUTS))
def test_fused_qk_layouts(device, layout, dtype, mode):
    gen = torch.Generator().manual_seed(MODES.index(mode) * 97 + DTYPES.index(dtype))
    build, out_build = ZERO_COPY_LAYOUTS[layout], OUTPUT_LAYOUT_FOR[layout]
    dk = DQ if mode == "no_quant_one_launch" else DK
    q, k = canaried(build, N, DQ, dtype, device, gen), canaried(build, N, dk, dtype, device, gen)
    wq, wk = weight(DQ, dtype, device, gen), weight(dk, dtype, device, gen)
    k_out = out_view(out_build, N, dk, dtype, device)
    gemma = mode == "residual_gemma"
    quant = mode in ("per_token", "group", "group_transposed")
    qdtype = QUANT_DTYPES[DTYPES.index(dtype)] if quant else dtype
    q_out = out_view(out_build, N, DQ, qdtype, device)
    rows = q.view.numel() // DQ
    kw = dict(q=q.view, q_weight=wq, q_epsilon=EPS, k_out=k_out.view, k=k.view, k_weight=wk, gemma_norm=gemma)
    s64 = q.view.double()
    if gemma or quant:  # the residual add, and out_before_quant, on every mode but the plain ones
        r = canaried(build, N, DQ, dtype, device, gen)
        r_out = out_view(contiguous_like(build), N, DQ, dtype, device)
        kw.update(q_residual=r.view, q_res_out=r_out.view)
        s64 = prologue_sum(q.view, r.view)
    unquant = out_view(out_build, N, DQ, dtype, device) if quant else None
    scales = None
    if mode == "per_token":
        scales = scale_buffer(rows, 1, device)
        aiter.fused_qk_rmsnorm_per_token_quant(q_out.view, scales.view, q_out_unquantized=unquant.view, **kw)
    elif quant:
        scales = scale_buffer(rows, DQ // GROUP, device, transposed_view=mode == "group_transposed")
        aiter.fused_qk_rmsnorm_group_quant(q_out.view, scales.view, q_out_unquantized=unquant.view,
                                           group_size=GROUP, transpose_scale=True, **kw)
    else:
        aiter.fused_qk_rmsnorm(q_out_quantized=q_out.view, **kw)

    y64 = reference_rmsnorm(s64, wq, EPS, gemma=gemma)
    if quant:
        group = 0 if mode == "per_token" else GROUP
        # transpose_scale: group g of row r at flat index g * rows + r, whichever tensor holds it.
        got_scales = scales.view if mode == "per_token" else scales.storage[1:1 + rows * (DQ // GROUP)].view(-1, rows).t()
        assert_quant_matches(q_out.view, got_scales.reshape(*q.view.shape[:-1], -1), y64, qdtype, group,
                             f"q {layout} {mode}")
        assert_matches(unquant.view, y64, dtype, f"q_out_unquantized {layout}")
        assert unquant.untouched_outside() and scales.untouched_outside()
    else:
        assert_matches(q_out.view, y64, dtype, f"q {layout} {mode}")
    if "q_residual" in kw:
        assert torch.equal(r_out.view, s64.to(dtype)), "q_res_out is not the rounded sum"
        assert r.unchanged() and r_out.untouched_outside()
    assert_matches(k_out.view, reference_rmsnorm(k.view, wk, EPS, gemma=gemma), dtype, f"k {layout}")
    assert q.unchanged() and k.unchanged(), "an input changed"
    assert q_out.untouched_outside() and k_out.untouched_outside(), "wrote outside an output view"
    assert aiter.gather_fallback_count() == 0, "a stride-1 view took the gather fallback"


def packed(T, dq, dk, dtype, device, gen):
    """q, k: the split of one (T, dq + dk + 8) buffer, as upstream's test makes them."""
    buf = torch.randn(T, dq + dk + 8, generator=gen).to(dtype).to(device)
    q, k, _ = torch.split(buf, [dq, dk, 8], dim=-1)
    return buf, q, k


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_one_launch_case_equals_qk_rmsnorm_bitwise(device, dtype):
    """Same head size and epsilon, no residual, no quant: the fused Q/K
    kernel's launch, bit for bit what qk_rmsnorm writes."""
    gen = torch.Generator().manual_seed(1)
    _, q, k = packed(17, 128, 128, dtype, device, gen)
    wq, wk = weight(128, dtype, device, gen), weight(128, dtype, device, gen)
    q_out, k_out = torch.empty_like(q), torch.empty_like(k)
    assert aiter.fused_qk_rmsnorm(q_out, None, q, wq, 1e-5, None, k_out, None, k, wk, 1e-5) is None
    want_q, want_k = aiter.qk_rmsnorm(q, k, wq, wk, 1e-5, torch.empty_like(q), torch.empty_like(k))
    assert torch.equal(q_out, want_q) and torch.equal(k_out, want_k)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_two_launch_case_equals_rms_norm_bitwise(device, dtype):
    """Different head sizes (upstream's test: 1536 and 512) and epsilons:
    Q's and K's launches, each bit for bit rms_norm's."""
    gen = torch.Generator().manual_seed(2)
    _, q, k = packed(9, 1536, 512, dtype, device, gen)
    wq, wk = weight(1536, dtype, device, gen), weight(512, dtype, device, gen)
    q_out, k_out = torch.empty_like(q), torch.empty_like(k)
    aiter.fused_qk_rmsnorm(q_out_quantized=q_out, q=q, q_weight=wq, q_epsilon=1e-6, k_out=k_out, k=k, k_weight=wk,
                           k_epsilon=1e-3)
    assert torch.equal(q_out, aiter.rms_norm(q, wq, 1e-6))
    assert torch.equal(k_out, aiter.rms_norm(k, wk, 1e-3))


def test_k_epsilon_defaults_to_q_epsilon(device):
    gen = torch.Generator().manual_seed(3)
    _, q, k = packed(4, 64, 32, torch.float32, device, gen)
    wq, wk = weight(64, torch.float32, device, gen), weight(32, torch.float32, device, gen)
    k_out = torch.empty_like(k)
    aiter.fused_qk_rmsnorm(torch.empty_like(q), None, q, wq, 0.5, None, k_out, None, k, wk)
    assert torch.equal(k_out, aiter.rms_norm(k, wk, 0.5))
    assert not torch.equal(k_out, aiter.rms_norm(k, wk, 1e-6))  # the epsilon matters at this size


def test_no_quant_writes_every_q_output_given(device):
    """No quantisation: Q's result goes to q_out_quantized (fused_qk_rmsnorm)
    or q_out_unquantized (group_quant's no-quant mode); given both, both."""
    gen = torch.Generator().manual_seed(4)
    _, q, k = packed(5, 64, 32, torch.bfloat16, device, gen)
    wq, wk = weight(64, torch.bfloat16, device, gen), weight(32, torch.bfloat16, device, gen)
    want = aiter.rms_norm(q, wq, EPS)
    a, b, ko = torch.empty_like(q), torch.empty_like(q), torch.empty_like(k)
    aiter.fused_qk_rmsnorm(q_out_quantized=a, q=q, q_weight=wq, q_epsilon=EPS, q_out_unquantized=b, k_out=ko, k=k,
                           k_weight=wk)
    assert torch.equal(a, want) and torch.equal(b, want)
    only = torch.empty_like(q)
    aiter.fused_qk_rmsnorm_group_quant(q=q, q_weight=wq, q_epsilon=EPS, q_out_unquantized=only)
    assert torch.equal(only, want)


def test_upstream_no_quant_without_a_q_output_still_writes_k(device):
    """Upstream's QuantType.No normalises Q into a buffer of its own when
    q_out_quantized is None, and writes K."""
    gen = torch.Generator().manual_seed(5)
    buf, q, k = packed(3, 64, 32, torch.float16, device, gen)
    before = buf.clone()
    wq, wk = weight(64, torch.float16, device, gen), weight(32, torch.float16, device, gen)
    k_out = torch.empty_like(k)
    aiter.fused_qk_rmsnorm(q=q, q_weight=wq, k_out=k_out, k=k, k_weight=wk)
    assert torch.equal(k_out, aiter.rms_norm(k, wk, 1e-6))
    assert torch.equal(buf, before)


def test_without_k_only_q_is_written(device):
    gen = torch.Generator().manual_seed(6)
    _, q, _ = packed(4, 64, 32, torch.bfloat16, device, gen)
    wq = weight(64, torch.bfloat16, device, gen)
    k_out = torch.full((4, 32), 3.0, dtype=torch.bfloat16, device=device)
    unused_weight = weight(32, torch.bfloat16, device, gen)
    q8 = torch.empty(4, 64, dtype=torch.float8_e4m3fn, device=device)
    scale = torch.empty(4, 1, device=device)
    aiter.fused_qk_rmsnorm_per_token_quant(q8, scale, q, wq, EPS, k_out=k_out, k_weight=unused_weight)
    assert bool((k_out == 3.0).all()), "k_out written although k is None"
    assert_quant_matches(q8, scale, reference_rmsnorm(q, wq, EPS), torch.float8_e4m3fn, 0, "q without k")


def test_q_res_out_without_q_residual_is_left_alone(device):
    """As upstream: the residual add runs only when q_residual is given."""
    gen = torch.Generator().manual_seed(7)
    _, q, k = packed(4, 64, 32, torch.float32, device, gen)
    wq, wk = weight(64, torch.float32, device, gen), weight(32, torch.float32, device, gen)
    res_out = torch.full_like(q, 2.0)
    q_out = torch.empty_like(q)
    aiter.fused_qk_rmsnorm(q_out, None, q, wq, EPS, None, torch.empty_like(k), res_out, k, wk)
    assert bool((res_out == 2.0).all())
    assert torch.equal(q_out, aiter.rms_norm(q, wq, EPS))


@pytest.mark.parametrize("quant_type, group", [(QuantType.per_1x128, 128), (QuantType.per_1x32, 32)])
def test_quant_type_picks_the_group_size(device, quant_type, group):
    gen = torch.Generator().manual_seed(group)
    _, q, k = packed(4, 256, 64, torch.bfloat16, device, gen)
    wq, wk = weight(256, torch.bfloat16, device, gen), weight(64, torch.bfloat16, device, gen)
    q8 = torch.empty(4, 256, dtype=torch.float8_e4m3fn, device=device)
    scale = torch.empty(4, 256 // group, device=device)  # (rows of 328 elements: 16-byte aligned, vector path)
    aiter.fused_qk_rmsnorm(q8, scale, q, wq, EPS, k_out=torch.empty_like(k), k=k, k_weight=wk, quant_type=quant_type)
    assert_quant_matches(q8, scale, reference_rmsnorm(q, wq, EPS), torch.float8_e4m3fn, group, str(quant_type))


def test_per_tensor_is_not_implemented():
    with pytest.raises(NotImplementedError, match="per_tensor"):
        aiter.fused_qk_rmsnorm(quant_type=QuantType.per_Tensor)


def test_int8_output_is_accepted_beside_fp8(device):
    gen = torch.Generator().manual_seed(8)
    _, q, _ = packed(3, 64, 32, torch.float16, device, gen)
    wq = weight(64, torch.float16, device, gen)
    q8 = torch.empty(3, 64, dtype=torch.int8, device=device)
    scale = torch.empty(3, 2, device=device)
    aiter.fused_qk_rmsnorm_group_quant(q8, scale, q, wq, EPS, group_size=32)
    assert_quant_matches(q8, scale, reference_rmsnorm(q, wq, EPS), torch.int8, 32, "int8 groups")
