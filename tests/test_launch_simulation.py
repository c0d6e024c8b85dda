"""The launch the launcher picks, simulated thread by thread for wave64
(gfx942, gfx90a) and warp32 (the H100), over the layout matrix: every element
of every view is read and written the expected number of times, vector
accesses are aligned, and nothing outside the views is touched. The walk uses
the kernels' own thread -> element functions (csrc/include/launch_config.h);
on the H100 the same layouts run for real in test_layout_matrix.py."""
import pytest
import torch

from aiter import _C
from layouts import OUTPUT_LAYOUT_FOR, ZERO_COPY_LAYOUTS
from helpers import span

TARGETS = {  # warp width, SMs/CUs, resident threads per SM/CU
    "gfx942": (64, 304, 2048),
    "gfx90a": (64, 110, 2048),
    "h100": (32, 132, 2048),
}
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


def simulate(target, out, x, w, r=None, r_out=None, blocks_per_sm=0):
    warp, sms, threads = TARGETS[target]
    return _C.simulate_launch(out, x, w, r, r_out, warp_size=warp, sm_count=sms,
                              max_threads_per_sm=threads, blocks_per_sm=blocks_per_sm)


def assert_clean(sim):
    assert sim["shape_violations"] == ""
    assert sim["misaligned_vectors"] == 0
    assert sim["outside_span"] == 0


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
    assert torch.equal(sim["input"]["reads"], expected_counts(x) * passes)
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
    assert torch.equal(sim["input"]["reads"], expected_counts(x))
    assert torch.equal(sim["residual_in"]["reads"], expected_counts(r))
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
