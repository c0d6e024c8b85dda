"""Property test: random strided views over canaried storage.

Inputs: any rank 1..5 view (leading sizes 0..5, hidden 1..300) with gaps,
permuted leading dims, stride-0 (expanded) leading dims, storage offsets and
sometimes a last-dim stride != 1 (gathered). Outputs: non-overlapping, dense or
gapped, sometimes in place. Checks: values against the float64 reference from
the views' logical values, residual_out exactly, canaries around outputs
untouched, input storages unchanged, and the gather counter incremented exactly
when aiter.layout.plan_rows predicts a copy.

AITER_FUZZ_EXAMPLES (default 300) sets the example count; the run is
derandomized (stable in CI) unless AITER_FUZZ_RANDOM=1.
"""
import os

import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import aiter
from aiter.layout import plan_rows
from helpers import CanariedView, assert_matches, reference_add_rmsnorm, reference_rmsnorm, span

EXAMPLES = int(os.environ.get("AITER_FUZZ_EXAMPLES", "300"))
RANDOM = os.environ.get("AITER_FUZZ_RANDOM", "") not in ("", "0")
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
OPS = ["rms_norm", "rms_norm_cu", "rms_norm_cu_in_place", "add_rmsnorm", "add_rmsnorm_in_place", "fused"]


@st.composite
def geometry(draw, shape, kind):
    """(stride, offset) for `shape`. kind: dense | gapped | transposed | expanded.
    dense/gapped/transposed never overlap internally; expanded is for inputs."""
    rank = len(shape)
    lead = list(range(rank - 1))
    if kind == "dense":
        order = [rank - 1] + lead[::-1]  # innermost first
    elif kind == "transposed":
        perm = draw(st.permutations(list(range(rank))))
        order = list(perm)
        if rank > 1 and order[0] == rank - 1:  # keep the hidden dim off the innermost slot
            order[0], order[1] = order[1], order[0]
    else:
        order = [rank - 1] + list(draw(st.permutations(lead)))
    stride = [0] * rank
    covered = 1
    for i, d in enumerate(order):
        gap = 0 if kind == "dense" else draw(st.integers(0, 3))
        if i == 0 and kind != "transposed":
            gap = 0  # hidden innermost with stride 1
        if i == 0 and kind == "transposed" and rank == 1:
            gap = draw(st.integers(1, 3))  # rank 1: a last-dim stride > 1
        stride[d] = covered + gap
        covered = stride[d] * (max(shape[d], 1) - 1) + covered
    if kind == "expanded":
        for d in lead:
            if draw(st.booleans()):
                stride[d] = 0
    offset = draw(st.integers(0, 7))
    return tuple(stride), offset


@st.composite
def fuzz_case(draw):
    rank = draw(st.integers(1, 5))
    lead = [draw(st.integers(1, 5)) for _ in range(rank - 1)]
    if lead and draw(st.integers(0, 7)) == 0:  # ~1 in 8: an empty leading dim (no rows)
        lead[draw(st.integers(0, len(lead) - 1))] = 0
    shape = tuple(lead + [draw(st.integers(1, 300))])
    op = draw(st.sampled_from(OPS))
    in_kinds = ["dense", "gapped", "transposed", "expanded"]
    out_kinds = ["dense", "gapped", "transposed"]
    # Buffers an op writes must not overlap themselves: in-place ones get output kinds.
    x_kind = draw(st.sampled_from(out_kinds if op in ("rms_norm_cu_in_place", "add_rmsnorm_in_place", "fused") else in_kinds))
    r_kind = draw(st.sampled_from(out_kinds if op in ("add_rmsnorm_in_place", "fused") else in_kinds))
    o_kind = draw(st.sampled_from(out_kinds))
    ro_kind = draw(st.sampled_from(out_kinds))
    return dict(
        shape=shape,
        op=op,
        dtype=draw(st.sampled_from(DTYPES)),
        x=draw(geometry(shape, x_kind)),
        r=draw(geometry(shape, r_kind)),
        o=draw(geometry(shape, o_kind)),
        ro=draw(geometry(shape, ro_kind)),
        w_stride=draw(st.sampled_from([1, 1, 2, 0])),
        gemma=draw(st.booleans()),
        ms=draw(st.sampled_from([0, 0, 1])),
        eps=draw(st.sampled_from([1e-6, 1e-5, 0.0, 0.1])),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def _view(shape, geom, dtype, device, gen, scale=1.0):
    stride, offset = geom
    n = span(shape, stride, offset)
    cv = CanariedView(shape, stride, offset, n, dtype, device)
    idx = torch.arange(n).as_strided(shape, stride, offset).reshape(-1)
    values = (torch.randn(idx.numel(), generator=gen) * scale).to(dtype)
    cv.storage[idx.to(device)] = values.to(device)  # expanded views: last write wins
    cv.snapshot = cv.storage.clone()
    return cv


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=fuzz_case())
def test_random_views(device, case):
    shape, dtype, op = case["shape"], case["dtype"], case["op"]
    gen = torch.Generator().manual_seed(case["seed"])
    hidden = shape[-1]
    eps, gemma, ms = case["eps"], case["gemma"], case["ms"]
    add = op in ("add_rmsnorm", "add_rmsnorm_in_place", "fused")
    # What each public entry point can express.
    if op in ("fused", "rms_norm_cu", "rms_norm_cu_in_place"):
        gemma, ms = False, 0
    elif op == "rms_norm":
        gemma = False
    elif op == "add_rmsnorm_in_place":
        ms = 0

    x = _view(shape, case["x"], dtype, device, gen)
    r = _view(shape, case["r"], dtype, device, gen) if add else None
    wbuf = (torch.rand(max(hidden * case["w_stride"], 1), generator=gen) + 0.5).to(dtype).to(device)
    w = wbuf.as_strided((hidden,), (case["w_stride"],))
    w_snap = wbuf.clone()
    x_val, r_val = x.view.clone(), (r.view.clone() if add else None)

    o = ro = None
    if op in ("rms_norm_cu", "add_rmsnorm"):
        o = _view(shape, case["o"], dtype, device, gen)
    if op == "add_rmsnorm":
        ro = _view(shape, case["ro"], dtype, device, gen)

    # Which tensors the launcher sees (in-place ones are the same view twice).
    if op == "rms_norm":
        seen = [x.view, torch.empty(shape)]
    elif op == "rms_norm_cu":
        seen = [x.view, o.view]
    elif op == "rms_norm_cu_in_place":
        seen = [x.view]
    elif op == "add_rmsnorm":
        seen = [x.view, o.view, r.view, ro.view]
    else:
        seen = [x.view, r.view]
    rows = x.view.numel() // hidden
    expect_gather = rows > 0 and not all(plan_rows(t).in_place for t in seen)
    event(f"op={op}")
    event(f"dtype={dtype}")
    event("rows=0" if rows == 0 else ("gathered" if expect_gather else "zero-copy"))
    before = aiter.gather_fallback_count()

    result = None
    if op == "rms_norm":
        result = aiter.rms_norm(x.view, w, eps, ms)
    elif op == "rms_norm_cu":
        aiter.rms_norm_cu(o.view, x.view, w, eps)
    elif op == "rms_norm_cu_in_place":
        aiter.rms_norm_cu(x.view, x.view, w, eps)
    elif op == "add_rmsnorm":
        aiter.rmsnorm2d_fwd_with_add(o.view, x.view, r.view, ro.view, w, eps, gemma, ms)
    elif op == "add_rmsnorm_in_place":
        aiter.add_rmsnorm(x.view, x.view, r.view, r.view, w, eps, gemma)
    else:
        aiter.fused_add_rms_norm_cu(x.view, r.view, w, eps)

    assert aiter.gather_fallback_count() - before == int(expect_gather), (
        f"gather counter: expected {int(expect_gather)}, plans {[plan_rows(t) for t in seen]}"
    )
    assert torch.equal(wbuf, w_snap), "weight changed"

    if add:
        want, want_sum = reference_add_rmsnorm(x_val, r_val, w, eps, gemma, ms)
    else:
        want = reference_rmsnorm(x_val, w, eps, gemma, ms)
        want_sum = None

    if op == "rms_norm":
        assert result.shape == shape and result.dtype == dtype
        out_view, sum_view, written = result, None, []
    elif op == "rms_norm_cu":
        out_view, sum_view, written = o.view, None, [o]
    elif op == "rms_norm_cu_in_place":
        out_view, sum_view, written = x.view, None, [x]
    elif op == "add_rmsnorm":
        out_view, sum_view, written = o.view, ro.view, [o, ro]
    else:  # add_rmsnorm_in_place and fused: out = input, residual_out = residual_in
        out_view, sum_view, written = x.view, r.view, [x, r]

    assert_matches(out_view, want, dtype, f"{op} out")
    if add:
        assert torch.equal(sum_view, want_sum.to(dtype)), f"{op}: residual_out differs from the rounded sum"
    for cv in written:
        assert cv.untouched_outside(), f"{op}: a canary around an output was overwritten"
    for cv in (x, r):
        if cv is not None and cv not in written:
            assert cv.unchanged(), f"{op}: an input's storage changed"
