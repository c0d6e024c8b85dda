"""The launch the launcher picks, simulated thread by thread for wave64
(gfx942, gfx90a) and warp32 (the H100), over the layout matrix: every element
of every view is read and written the expected number of times, vector
accesses are aligned, and nothing outside the views is touched. The walk uses
the kernels' own thread -> element functions (csrc/include/launch_config.h);
on the H100 the same layouts run for real in test_layout_matrix.py."""
import pytest
import torch

from aiter import _C
from layouts import OUTPUT_LAYOUT_FOR, ZERO_COPY_LAYOUTS, dense, odd_offset
from helpers import span, table_specs

TARGETS = {  # warp width, SMs/CUs, resident threads per SM/CU
    "gfx942": (64, 304, 2048),
    "gfx90a": (64, 110, 2048),
    "h100": (32, 132, 2048),
}
# Targets with asynchronous global -> shared copies, whose multi-wave
# launches stage row groups (LaunchConfig::stage_rows).
ASYNC_COPY = {"h100": True}
HIDDEN = [1, 7, 128, 769, 4096, 8193, 65536]
ROWS = [1, 3, 257]


def view(layout, n, h, dtype=torch.bfloat16):
    shape, stride, offset = layout(n, h)
    storage = torch.zeros(span(shape, stride, offset) + 8, dtype=dtype)
    return storage.as_strided(shape, stride, offset)


def expected_counts(t):
    """How many logical elements land on each element from the view's start."""
    n = span(t.shape, t.stride(), 0)
    idx = torch.arange(n).as_strided(t.shape, t.stride(), 0).reshape(-1)
    return torch.bincount(idx, minlength=n).to(torch.int32)


def simulate(target, out, x, w, r=None, r_out=None, blocks_per_sm=0, decode_split=2, dense_split=True):
    warp, sms, threads = TARGETS[target]
    return _C.simulate_launch(out, x, w, r, r_out, warp_size=warp, sm_count=sms,
                              max_threads_per_sm=threads, blocks_per_sm=blocks_per_sm,
                              async_copy=ASYNC_COPY.get(target, False), decode_split=decode_split,
                              dense_split=dense_split)


def assert_clean(sim):
    assert sim["shape_violations"] == ""
    assert sim["misaligned_vectors"] == 0
    assert sim["outside_span"] == 0


def slices(sim):
    """Blocks per row group of a sliced decode launch (LaunchConfig::slice_shift):
    each reads the whole row, so inputs are read that many times; outputs once."""
    return 1 << sim["config"]["slice_shift"]


@pytest.mark.parametrize("blocks_per_sm", [0, 1], ids=["occupancy", "one_block_per_sm"])
@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("layout", list(ZERO_COPY_LAYOUTS))
@pytest.mark.parametrize("target", list(TARGETS))
def test_plain_norm_touches_each_element_once(target, layout, hidden, n, blocks_per_sm):
    if hidden * n > 257 * 8193:
        n = 3  # the widest rows: a few are enough to cover the streamed path
    x = view(ZERO_COPY_LAYOUTS[layout], n, hidden)
    out = view(OUTPUT_LAYOUT_FOR[layout], n, hidden)
    sim = simulate(target, out, x, torch.zeros(hidden, dtype=x.dtype), blocks_per_sm=blocks_per_sm)
    assert_clean(sim)
    passes = 2 if sim["config"]["chunks"] == 0 else 1  # streamed rows are read twice
    assert torch.equal(sim["input"]["reads"], expected_counts(x) * passes * slices(sim))
    assert not sim["input"]["writes"].any()
    assert torch.equal(sim["out"]["writes"], expected_counts(out))
    assert not sim["out"]["reads"].any()


@pytest.mark.parametrize("n", ROWS)
@pytest.mark.parametrize("hidden", [7, 128, 769, 4096, 65536])
@pytest.mark.parametrize("layout", list(ZERO_COPY_LAYOUTS))
@pytest.mark.parametrize("target", list(TARGETS))
def test_fused_add_touches_each_element_once(target, layout, hidden, n):
    if hidden * n > 257 * 8193:
        n = 3
    build, out_build = ZERO_COPY_LAYOUTS[layout], OUTPUT_LAYOUT_FOR[layout]
    x, r = view(build, n, hidden), view(build, n, hidden)
    out, r_out = view(out_build, n, hidden), view(out_build, n, hidden)
    sim = simulate(target, out, x, torch.zeros(hidden, dtype=x.dtype), r, r_out)
    assert_clean(sim)
    streamed = sim["config"]["chunks"] == 0
    assert torch.equal(sim["input"]["reads"], expected_counts(x) * slices(sim))
    assert torch.equal(sim["residual_in"]["reads"], expected_counts(r) * slices(sim))
    assert torch.equal(sim["residual_out"]["writes"], expected_counts(r_out))
    assert torch.equal(sim["residual_out"]["reads"], expected_counts(r_out) * int(streamed))
    assert torch.equal(sim["out"]["writes"], expected_counts(out))


@pytest.mark.parametrize("residual", [False, True], ids=["plain", "fused_add"])
@pytest.mark.parametrize("target", list(TARGETS))
def test_seed_case_launch(target, residual):
    """(2048, 32, 128) stride (6144, 128, 1), with and without the residual."""
    qkv = torch.zeros(2048, 6144, dtype=torch.bfloat16)
    q = qkv[:, :4096].view(2048, 32, 128)
    out = torch.zeros(2048, 32, 128, dtype=torch.bfloat16)
    w = torch.zeros(128, dtype=torch.bfloat16)
    if residual:
        r, r_out = torch.zeros_like(out), torch.zeros_like(out)
        sim = simulate(target, out, q, w, r, r_out)
        assert torch.equal(sim["residual_in"]["reads"], expected_counts(r))
        assert torch.equal(sim["residual_out"]["writes"], expected_counts(r_out))
    else:
        sim = simulate(target, out, q, w)
    assert_clean(sim)
    assert torch.equal(sim["input"]["reads"], expected_counts(q))
    assert torch.equal(sim["out"]["writes"], expected_counts(out))
    # The V part and the gaps of the packed buffer are never read.
    assert sim["input"]["reads"].numel() == 2047 * 6144 + 4096
    warp = TARGETS[target][0]
    cfg = sim["config"]
    assert cfg["vec"] == 8 and cfg["lanes"] <= warp and warp % cfg["lanes"] == 0


@pytest.mark.parametrize("residual", [False, True], ids=["plain", "fused_add"])
@pytest.mark.parametrize("target", list(TARGETS))
def test_decode_launches_spread_over_more_sms(target, residual):
    """Decode launches of dense rows (no more row groups than SMs) spread
    over more SMs: four vectors per thread run four blocks per row, each
    storing one slot (and reading the whole row, so its sum is the lone
    block's), except fused-add rows of at most 256 vectors, which split (a
    thread per vector, one block per row); packed rows (the Q slice) take
    64-thread blocks. Many-row launches keep one block per row group. Every
    output element is written once either way."""
    warp, sms, _ = TARGETS[target]

    def run(x, dense_split=True):
        out = torch.zeros_like(x)
        w = torch.zeros(x.shape[-1], dtype=x.dtype)
        r = r_out = None
        if residual:
            r, r_out = torch.zeros_like(x), torch.zeros_like(x)
        sim = simulate(target, out, x, w, r, r_out, dense_split=dense_split)
        assert_clean(sim)
        assert torch.equal(sim["out"]["writes"], expected_counts(out))
        if residual:
            assert torch.equal(sim["residual_out"]["writes"], expected_counts(r_out))
            assert torch.equal(sim["residual_in"]["reads"], expected_counts(r) * slices(sim))
        assert torch.equal(sim["input"]["reads"], expected_counts(x) * slices(sim))
        return sim["config"]

    hidden = 2048  # bf16: 64 lanes of four 16-byte vectors on every target
    decode = run(torch.zeros(3, hidden, dtype=torch.bfloat16))
    unsplit = run(torch.zeros(3, hidden, dtype=torch.bfloat16), dense_split=False)
    assert unsplit["dense_rows"] == 1 and unsplit["chunks"] == 4
    assert unsplit["slice_shift"] == 2 and unsplit["grid"] == 3 * 4
    if residual:
        assert decode["dense_rows"] == 1 and decode["split"] == 4 and decode["chunks"] == 1
        assert decode["threads"] == decode["lanes"] == 4 * unsplit["lanes"] and decode["grid"] == 3
        assert decode["slice_shift"] == 0 and decode["compact_params"] == 1
    else:
        assert decode == unsplit
    # Rows of 512 threads' vectors slice, fused add included.
    wide = run(torch.zeros(3, 2 * hidden, dtype=torch.bfloat16))
    assert wide["split"] == 1 and wide["chunks"] == 4 and wide["slice_shift"] == 2 and wide["grid"] == 3 * 4
    batch = run(torch.zeros(sms + 1, hidden, dtype=torch.bfloat16))
    assert batch["slice_shift"] == 0 and batch["split"] == 1 and batch["grid"] == sms + 1
    assert batch["lanes"] == unsplit["lanes"] and batch["chunks"] == 4
    # Q slice of a packed QKV buffer: rows of 16 lanes.
    qkv = torch.zeros(1, 6144, dtype=torch.bfloat16)
    one_token = run(qkv[:, :4096].view(1, 32, 128))
    assert one_token["lanes"] == 16 and one_token["threads"] == 64 and one_token["grid"] == 32 * 16 // 64
    qkv = torch.zeros(sms, 6144, dtype=torch.bfloat16)
    many = run(qkv[:, :4096].view(sms, 32, 128))
    assert many["threads"] == 256 and many["slice_shift"] == 0


def test_wave64_and_warp32_shapes_differ_where_the_warp_matters():
    """Long rows use whole warps: the block of a 1-warp-wide row is 64 lanes
    on gfx942 and 32 on the H100 (no literal 32 in the launch planner)."""
    x = torch.zeros(4, 512, dtype=torch.float32)  # 128 vectors of 4: long rows
    out = torch.zeros_like(x)
    w = torch.zeros(512)
    amd = simulate("gfx942", out, x, w)["config"]
    nv = simulate("h100", out, x, w)["config"]
    assert amd["lanes"] % 64 == 0 and nv["lanes"] % 32 == 0
    assert amd["threads"] >= 64


# ---------------------------------------------------------------- the norm family
def qview(layout, n, h, dtype=torch.int8):
    shape, stride, offset = layout(n, h)
    storage = torch.zeros(span(shape, stride, offset) + 8, dtype=dtype)
    return storage.as_strided(shape, stride, offset)


def scale_for(x, groups=1):
    return torch.zeros(*x.shape[:-1], groups)


@pytest.mark.parametrize("n", [1, 257])
@pytest.mark.parametrize("hidden", [7, 128, 769, 4096, 65536])
@pytest.mark.parametrize("layout", ["dense", "row_strided", "qk3d_q", "permuted4d", "odd_offset"])
@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("variant", ["quant", "add_quant", "layer", "add_layer_quant"])
def test_norm_family_touches_each_element_once(variant, target, layout, hidden, n):
    """Quantised outputs (one byte per element, vec-aligned), scales written
    once per row, streamed rows re-read once per extra pass (LayerNorm's
    variance, the quant max) and nothing else touched."""
    if hidden * n > 257 * 8193:
        n = 3
    add, quant, layer = "add" in variant, "quant" in variant, "layer" in variant
    build, out_build = ZERO_COPY_LAYOUTS[layout], OUTPUT_LAYOUT_FOR[layout]
    x = view(build, n, hidden)
    out = qview(out_build, n, hidden) if quant else view(out_build, n, hidden)
    w = torch.zeros(hidden, dtype=x.dtype)
    r = view(build, n, hidden) if add else None
    r_out = view(out_build, n, hidden) if add else None
    ys = scale_for(x) if quant else None
    before = view(out_build, n, hidden) if quant else None
    warp, sms, threads = TARGETS[target]
    sim = _C.simulate_launch(out, x, w, r, r_out, warp_size=warp, sm_count=sms, max_threads_per_sm=threads,
                             layer=layer, yscale=ys, out_before_quant=before)
    assert_clean(sim)
    streamed = sim["config"]["chunks"] == 0
    rereads = (1 + int(layer) + int(quant)) if streamed else 0
    if add:
        assert torch.equal(sim["input"]["reads"], expected_counts(x))
        assert torch.equal(sim["residual_in"]["reads"], expected_counts(r))
        assert torch.equal(sim["residual_out"]["writes"], expected_counts(r_out))
        assert torch.equal(sim["residual_out"]["reads"], expected_counts(r_out) * rereads)
    else:
        assert torch.equal(sim["input"]["reads"], expected_counts(x) * (1 + rereads))
    assert torch.equal(sim["out"]["writes"], expected_counts(out))
    if quant:
        assert torch.equal(sim["yscale"]["writes"], torch.ones(ys.numel(), dtype=torch.int32))
        assert torch.equal(sim["out_before_quant"]["writes"], expected_counts(before))
        if sim["config"]["vec"] > 1:  # 16 bytes of input per access: vec bytes of out
            assert out.data_ptr() % sim["config"]["vec"] == 0


@pytest.mark.parametrize("group_size", [16, 32, 128])
@pytest.mark.parametrize("hidden", [128, 1024, 16384])
@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("shuffled", [False, True])
def test_group_scales_written_once_each(target, hidden, group_size, shuffled):
    n = 5
    x = view(dense, n, hidden)
    out = qview(dense, n, hidden)
    groups = hidden // group_size
    ys = torch.zeros(n, groups)
    warp, sms, threads = TARGETS[target]
    sim = _C.simulate_launch(out, x, torch.zeros(hidden, dtype=x.dtype), None, None, warp_size=warp, sm_count=sms,
                             max_threads_per_sm=threads, yscale=ys, group_size=group_size)
    assert_clean(sim)
    assert sim["config"]["group_lanes"] == group_size // sim["config"]["vec"]
    assert torch.equal(sim["yscale"]["writes"], torch.ones(n * groups, dtype=torch.int32))
    assert torch.equal(sim["out"]["writes"], expected_counts(out))


@pytest.mark.parametrize("group_size", [0, 64, 128])
@pytest.mark.parametrize("target", list(TARGETS))
def test_short_quant_rows_hold_two_vectors(target, group_size):
    """Short rows of the quantising variants hold two vectors per thread
    (TargetInfo::short_quant_row_chunks) where plain RMSNorm holds one, in
    as many lanes as a scale group needs (a group is reduced across lanes).
    head_dim 128 in bf16: 16 vectors per row."""
    warp, sms, threads = TARGETS[target]
    n, hidden = 3 * sms + 1, 128
    x, w = view(dense, n, hidden), torch.zeros(hidden, dtype=torch.bfloat16)
    plain = _C.simulate_launch(view(dense, n, hidden), x, w, None, None, warp_size=warp, sm_count=sms,
                               max_threads_per_sm=threads)["config"]
    assert (plain["lanes"], plain["chunks"]) == (16, 1)
    out = qview(dense, n, hidden)
    ys = torch.zeros(n, hidden // group_size if group_size else 1)
    sim = _C.simulate_launch(out, x, w, None, None, warp_size=warp, sm_count=sms, max_threads_per_sm=threads,
                             yscale=ys, group_size=group_size)
    assert_clean(sim)
    lanes = max(8, group_size // 8)
    assert (sim["config"]["lanes"], sim["config"]["chunks"]) == (lanes, 16 // lanes)
    assert torch.equal(sim["out"]["writes"], expected_counts(out))
    assert torch.equal(sim["yscale"]["writes"], torch.ones(ys.numel(), dtype=torch.int32))


def test_group_wider_than_a_warp_on_the_scalar_path_is_refused():
    """group_size / vec must fit a warp: 128 scalar lanes do not on either target."""
    x = view(odd_offset, 3, 256)  # misaligned: vec 1
    out, ys = qview(dense, 3, 256), torch.zeros(3, 2)
    for target in TARGETS:
        warp, sms, threads = TARGETS[target]
        sim = _C.simulate_launch(out, x, torch.zeros(256, dtype=x.dtype), None, None, warp_size=warp,
                                 sm_count=sms, max_threads_per_sm=threads, yscale=ys, group_size=128)
        assert "per-group quantisation" in sim["shape_violations"]


@pytest.mark.parametrize("dense_rows", [True, False], ids=["dense", "general"])
@pytest.mark.parametrize("T", [1, 7, 301])
@pytest.mark.parametrize("d", [64, 128, 256])
@pytest.mark.parametrize("target", list(TARGETS))
def test_qk_two_job_launch(target, d, T, dense_rows):
    """One launch over the Q and K slices of a packed buffer: every Q and K
    element read and written once, the V part and gaps never touched. It
    takes the dense-row kernel (decode launches too), whose blocks of packed
    rows straddle the Q/K boundary at T = 301."""
    qkv = torch.zeros(T, 12 * d, dtype=torch.bfloat16)
    q, k = qkv[:, : 8 * d].view(T, 8, d), qkv[:, 8 * d : 10 * d].view(T, 2, d)
    oq, ok = torch.zeros(T, 8, d, dtype=torch.bfloat16), torch.zeros(T, 2, d, dtype=torch.bfloat16)
    w = torch.zeros(d, dtype=torch.bfloat16)
    warp, sms, threads = TARGETS[target]
    sim = _C.simulate_launch(oq, q, w, None, None, warp_size=warp, sm_count=sms, max_threads_per_sm=threads,
                             k=k, k_out=ok, k_weight=w, dense_rows=dense_rows)
    assert_clean(sim)
    assert sim["config"]["dense_rows"] == int(dense_rows)
    assert torch.equal(sim["input"]["reads"], expected_counts(q))
    assert torch.equal(sim["k"]["reads"], expected_counts(k))
    assert torch.equal(sim["out"]["writes"], expected_counts(oq))
    assert torch.equal(sim["k_out"]["writes"], expected_counts(ok))


@pytest.mark.parametrize("target", list(TARGETS))
def test_decode_launch_splits_long_rows_in_the_batch_launch_order(target):
    """Under TargetInfo::decode_split 1 (AITER_LAUNCH_TUNE=decode_split=1), with
    no more rows than SMs a long row gets one thread per vector (split); with
    more rows, split chunks per thread over lanes / split lanes (the order
    the split launch's sums follow). Both touch each element once."""
    warp, sms, _ = TARGETS[target]
    configs = {}
    for n in (2, sms + 1):
        x = view(dense, n, 4096)
        out = torch.zeros_like(x)
        sim = simulate(target, out, x, torch.zeros(4096, dtype=torch.bfloat16), decode_split=1)
        assert_clean(sim)
        assert torch.equal(sim["input"]["reads"], expected_counts(x))
        assert torch.equal(sim["out"]["writes"], expected_counts(out))
        configs[n] = sim["config"]
    few, many = configs[2], configs[sms + 1]
    assert many["split"] == 1 and many["chunks"] > 1
    assert few["split"] == many["chunks"] and few["chunks"] == 1
    assert few["lanes"] == many["lanes"] * many["chunks"] == few["threads"]
    # Weight prefetch (long rows whose weights stay out of registers) is for
    # decode launches only.
    assert few["prefetch_weights"] == 1 and many["prefetch_weights"] == 0


@pytest.mark.parametrize("warp", [32, 64])
@pytest.mark.parametrize("layout", list(ZERO_COPY_LAYOUTS))
def test_batched_short_rows_touch_each_element_once(warp, layout):
    """Multi-wave launches of short rows take row groups in batches
    (LaunchConfig::row_batch; one SM here so a few hundred rows suffice):
    every element is still read and written exactly once."""
    n, hidden = 257, 128
    x = view(ZERO_COPY_LAYOUTS[layout], n, hidden)
    out = view(OUTPUT_LAYOUT_FOR[layout], n, hidden)
    # Without dense-row launches (which take these rows on most layouts).
    sim = _C.simulate_launch(out, x, torch.zeros(hidden, dtype=x.dtype), None, None, warp_size=warp,
                             sm_count=1, max_threads_per_sm=256, blocks_per_sm=0, dense_rows=False)
    assert_clean(sim)
    assert sim["config"]["dense_rows"] == 0
    if sim["config"]["vec"] > 1:
        assert sim["config"]["row_batch"] > 1
    assert torch.equal(sim["input"]["reads"], expected_counts(x))
    assert torch.equal(sim["out"]["writes"], expected_counts(out))


@pytest.mark.parametrize("layout", list(ZERO_COPY_LAYOUTS))
@pytest.mark.parametrize("hidden", [128, 4096])
def test_staged_launches_touch_each_element_once(layout, hidden):
    """With asynchronous copies, multi-wave plain RMSNorm launches copy each
    block's next row group into shared memory while on the current one
    (stage_rows) instead of batching short rows: every element is still read
    and written exactly once. Single-wave launches (nothing to stage) and
    the fused add do not stage; RMSNorm quant with two or more vectors per
    thread always does (its row lives in the buffer)."""
    def run(n, add=False, quant=False, async_copy=True, blocks_per_sm=1, dense_rows=True):
        x = view(ZERO_COPY_LAYOUTS[layout], n, hidden)
        out = view(OUTPUT_LAYOUT_FOR[layout], n, hidden, torch.int8 if quant else x.dtype)
        r = r_out = None
        if add:
            r, r_out = view(OUTPUT_LAYOUT_FOR[layout], n, hidden), view(OUTPUT_LAYOUT_FOR[layout], n, hidden)
        yscale = torch.zeros(x.shape[:-1]) if quant else None
        sim = _C.simulate_launch(out, x, torch.zeros(hidden, dtype=x.dtype), r, r_out, warp_size=32,
                                 sm_count=2, max_threads_per_sm=2048, blocks_per_sm=blocks_per_sm, yscale=yscale,
                                 async_copy=async_copy, dense_rows=dense_rows)
        assert_clean(sim)
        assert torch.equal(sim["input"]["reads"], expected_counts(x) * slices(sim))
        assert torch.equal(sim["out"]["writes"], expected_counts(out))
        return sim["config"]

    many = run(300)
    if many["dense_rows"]:  # one block per row group: nothing to stage
        assert many["stage_rows"] == 0
    dense_quant = run(300, quant=True)
    if dense_quant["dense_rows"]:
        assert dense_quant["stage_rows"] == 0
    general = run(300, dense_rows=False)
    assert general["dense_rows"] == 0
    if general["vec"] > 1:
        assert general["stage_rows"] == 1 and general["row_batch"] == 1
        assert run(300, async_copy=False, dense_rows=False)["stage_rows"] == 0
    few = run(1)  # one row per leading index: a single wave where the layout has no inner row dims
    rows = view(ZERO_COPY_LAYOUTS[layout], 1, hidden).numel() // hidden
    if -(-rows // few["rows_per_block"]) <= few["grid"]:
        assert few["stage_rows"] == 0
    assert run(300, add=True)["stage_rows"] == 0
    # RMSNorm-quant kernels holding two or more vectors per thread keep their
    # row in the staging buffer: they stage every launch, a single wave
    # included; one-vector (short-row) quant kernels never stage.
    # (The general kernel's: dense-row launches stage nothing.)
    quant = run(300, quant=True, dense_rows=False)
    in_shared = quant["vec"] > 1 and quant["chunks"] >= 2 and quant["split"] == 1
    assert quant["stage_rows"] == int(in_shared)
    # More rows than SMs (no decode split), one row group per block.
    single = run(3, quant=True, blocks_per_sm=0, dense_rows=False)
    rows = view(ZERO_COPY_LAYOUTS[layout], 3, hidden).numel() // hidden
    if single["chunks"] >= 2 and single["vec"] > 1 and -(-rows // single["rows_per_block"]) <= single["grid"]:
        assert single["stage_rows"] == 1
    assert run(300, quant=True, async_copy=False)["stage_rows"] == 0


# Layouts whose row tensors have at most two row dims after collapsing, with
# 16-byte vectors: the ones the dense-row kernels take.
DENSE_ROW_LAYOUTS = {"dense", "row_strided", "size1_dims", "expanded", "qk3d_q", "qk3d_k"}
# Variants with dense-row kernels (variant_has_dense_kernel; the fused Q/K
# norm has its own test): (fused add, quantising, LayerNorm).
DENSE_VARIANTS = {"rms": (False, False, False), "add_rms": (True, False, False),
                  "quant": (False, True, False), "add_quant": (True, True, False),
                  "layer": (False, False, True), "add_layer": (True, False, True)}


@pytest.mark.parametrize("variant", list(DENSE_VARIANTS))
@pytest.mark.parametrize("hidden", [64, 128, 256, 1024, 2048, 4096, 16384, 32768])
@pytest.mark.parametrize("layout", list(ZERO_COPY_LAYOUTS))
@pytest.mark.parametrize("target", list(TARGETS))
def test_dense_row_launches(target, layout, hidden, variant):
    """Cached rows of RMSNorm, RMSNorm-quant and LayerNorm (each with and
    without the fused add) on layouts of at most two
    row dims with more rows than SMs take the dense-row kernel
    (LaunchConfig::dense_rows): a block per row group, every element read and
    written once. Other layouts and streamed rows keep the general kernel
    (so do decode launches that split: TargetInfo::decode_split 1 for every
    variant, 2, the default, for the quantising ones), and the dense launch
    holds each row in the same lanes and chunks as a launch of few rows (same
    reduction order: results do not depend on the batch). Dense-row RMSNorm
    launches, plain and fused add, go out as a CompactLaunch
    (compact_params.h), and the walk runs on what the kernel expands from
    it, so the counts below check the compact block too."""
    warp, sms, threads = TARGETS[target]
    add, quant, layer = DENSE_VARIANTS[variant]

    def run(n, decode_split=2):
        x = view(ZERO_COPY_LAYOUTS[layout], n, hidden)
        out = view(OUTPUT_LAYOUT_FOR[layout], n, hidden, torch.int8 if quant else x.dtype)
        r = r_out = None
        if add:
            r, r_out = view(OUTPUT_LAYOUT_FOR[layout], n, hidden), view(OUTPUT_LAYOUT_FOR[layout], n, hidden)
        yscale = torch.zeros(x.shape[:-1]) if quant else None
        sim = _C.simulate_launch(out, x, torch.zeros(hidden, dtype=x.dtype), r, r_out, warp_size=warp,
                                 sm_count=sms, max_threads_per_sm=threads, blocks_per_sm=1, layer=layer,
                                 yscale=yscale, async_copy=ASYNC_COPY.get(target, False),
                                 decode_split=decode_split)
        assert_clean(sim)
        assert torch.equal(sim["out"]["writes"], expected_counts(out))
        if quant:
            assert torch.equal(sim["yscale"]["writes"], expected_counts(yscale))
        if sim["config"]["chunks"] > 0:  # streamed rows re-read (test_plain_norm_touches_each_element_once)
            assert torch.equal(sim["input"]["reads"], expected_counts(x) * slices(sim))
        if add:
            assert torch.equal(sim["residual_in"]["reads"], expected_counts(r) * slices(sim))
            assert torch.equal(sim["residual_out"]["writes"], expected_counts(r_out))
        return sim["config"], x.numel() // hidden

    # More rows than SMs, and not a whole number of packed row groups.
    many, rows = run(sms + 3)
    cached = many["chunks"] > 0 and many["vec"] * 2 == 16  # bf16: 16-byte vectors
    expect_dense = layout in DENSE_ROW_LAYOUTS and cached and many["lanes"] <= 512
    assert many["dense_rows"] == int(expect_dense)
    assert many["compact_params"] == int(expect_dense and not quant and not layer)
    if expect_dense:
        # A block is the row's lanes (64..512), or 256 threads of rows of
        # fewer lanes (TargetInfo::dense_packed_threads), one row per
        # sub-group; 64 where those would be one block per SM at most
        # (RMSNorm, plain and fused add: dense_row_threads).
        lanes = many["lanes"]
        packed_fits = lanes < 64 and not quant and not layer and -(-rows // (256 // lanes)) <= sms
        assert many["threads"] == (lanes if lanes >= 64 else 64 if packed_fits else 256)
        assert many["rows_per_block"] == many["threads"] // many["lanes"]
        assert many["grid"] == -(-rows // many["rows_per_block"])
        assert many["stage_rows"] == 0 and many["split"] == 1 and many["row_batch"] == 1
    # At most a few rows: a decode launch. With one leading index every
    # layout here collapses to at most two row dims, and a lone row of an odd
    # pitch is aligned. Where it does not split it takes the dense-row kernel
    # whenever its rows are cached; where it splits only rows that keep
    # several vectors per thread (too long to split) do.
    for decode_split in (0, 1, 2):
        splits = decode_split == 1 or (decode_split == 2 and quant)
        few, _ = run(1, decode_split)
        few_dense = few["vec"] * 2 == 16 and few["lanes"] <= 512 and few["chunks"] > 0
        assert few["dense_rows"] == int(few_dense and (few["chunks"] > 1 or not splits)), decode_split
        # The fused add's dense-row decode launches split short enough rows
        # themselves (TargetInfo::dense_decode_split): a thread per vector.
        dense_split = few["dense_rows"] == 1 and few["split"] > 1
        if dense_split:
            assert add and not quant and not layer and not splits, decode_split
            assert few["chunks"] == 1 and few["threads"] == few["lanes"] <= 256, decode_split
        assert few["split"] == 1 or splits or dense_split, decode_split
        if few["dense_rows"]:
            assert few["prefetch_weights"] == 1
        assert few["compact_params"] == int(few["dense_rows"] == 1 and not quant and not layer)
        # Same lanes and chunks per row (a split launch spreads the same
        # chunks), where one row has the vector width of many (a lone row of
        # an odd-pitch view is aligned; layouts alone decide that, not
        # dense_rows).
        if few["vec"] == many["vec"]:
            assert (few["lanes"] // few["split"], few["chunks"] * few["split"]) == (many["lanes"], many["chunks"])


# ---------------------------------------------------------------- per-GPU tables
# Each launch table the tests know (tests/helpers.py: table_specs), walked on
# warp-32 and wave64 targets: at their real SM counts (decode boundaries) and
# as two-SM GPUs (persistent grids looping, staged and batched row groups).
TABLE_TARGETS = {  # warp, SMs, resident threads per SM, asynchronous copies
    "h100": (32, 132, 2048, True),
    "h100_2sm": (32, 2, 2048, True),
    "gfx942": (64, 304, 2048, False),
    "gfx942_2sm": (64, 2, 2048, False),
}
TABLE_SPECS = table_specs()
TABLE_LAYOUTS = ("dense", "row_strided_odd", "qk3d_q", "permuted4d", "expanded")


def table_rows(sms, hidden):
    """Leading counts to walk: decode launches at the real SM counts; on the
    two-SM models, launches of several waves (general kernel: 16 resident
    256-thread blocks of 16 short rows, or 8 of one long row)."""
    return (1, 3) if sms > 2 else (1, 300 if hidden <= 128 else 35)


@pytest.mark.parametrize("target", list(TABLE_TARGETS))
@pytest.mark.parametrize("spec", list(TABLE_SPECS))
def test_every_table_launch_touches_each_element_once(spec, target):
    warp, sms, threads, async_copy = TABLE_TARGETS[target]
    tune = TABLE_SPECS[spec]
    for layout in TABLE_LAYOUTS:
        for hidden in (128, 4096):
            for n in table_rows(sms, hidden):
                for variant in ("rms", "add_rms", "quant"):
                    add, quant = variant == "add_rms", variant == "quant"
                    x = view(ZERO_COPY_LAYOUTS[layout], n, hidden)
                    out = view(OUTPUT_LAYOUT_FOR[layout], n, hidden, torch.int8 if quant else x.dtype)
                    r = r_out = None
                    if add:
                        r, r_out = (view(OUTPUT_LAYOUT_FOR[layout], n, hidden) for _ in range(2))
                    ys = torch.zeros(x.shape[:-1]) if quant else None
                    sim = _C.simulate_launch(out, x, torch.zeros(hidden, dtype=x.dtype), r, r_out, warp_size=warp,
                                             sm_count=sms, max_threads_per_sm=threads, yscale=ys,
                                             async_copy=async_copy, tune=tune)
                    where = f"{spec} on {target}: {variant} {layout} hidden {hidden} n {n}"
                    assert sim["shape_violations"] == "", where + ": " + sim["shape_violations"]
                    assert sim["misaligned_vectors"] == 0 and sim["outside_span"] == 0, where
                    passes = 2 + int(quant) if sim["config"]["chunks"] == 0 and not add else 1
                    assert torch.equal(sim["input"]["reads"], expected_counts(x) * passes * slices(sim)), where
                    assert torch.equal(sim["out"]["writes"], expected_counts(out)), where
                    if add:
                        assert torch.equal(sim["residual_out"]["writes"], expected_counts(r_out)), where
                    if quant:
                        assert torch.equal(sim["yscale"]["writes"], expected_counts(ys)), where


def test_table_keys_reach_the_launch():
    """The simulation's target takes a table's keys (else the walk above
    would prove nothing about them)."""
    def config(tune, n=300, hidden=128, layout="dense", sms=2):
        x = view(ZERO_COPY_LAYOUTS[layout], n, hidden)
        return _C.simulate_launch(torch.zeros_like(x), x, torch.zeros(hidden, dtype=x.dtype), warp_size=32,
                                  sm_count=sms, max_threads_per_sm=2048, async_copy=True, tune=tune)["config"]

    assert config("")["dense_rows"] == 1 and config("dense_rows=0")["dense_rows"] == 0
    assert config("packed_threads=128")["threads"] == 128 and config("")["threads"] == 256
    general = config("dense_rows=0")
    assert general["stage_rows"] == 1 and config("dense_rows=0,stage_rows=0")["stage_rows"] == 0
    assert config("dense_rows=0,short_threads=512")["threads"] == 512
    grid = config("dense_rows=0,grid_waves=0")
    assert grid["grid"] == -(-300 // grid["rows_per_block"]) and general["grid"] < grid["grid"]
    decode = config("", n=3, hidden=4096, sms=132)
    assert decode["slice_shift"] == 2 and config("decode_slices=1", n=3, hidden=4096, sms=132)["slice_shift"] == 0
    with pytest.raises(ValueError, match="changes|unknown key"):
        config("nope=1")
