"""upstream's test-support surface as written here: aiter.test_common
(checkAllclose, perftest, benchmark, strict mode), aiter.dtypes, QuantType,
the torch quant references, get_gfx, fp4 unpacking and aiter.logger."""
import argparse
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import aiter
import aiter.test_common
from aiter import QuantType, dtypes
from aiter.test_common import benchmark, checkAllclose, perftest
from aiter.utility import fp4_utils
from aiter.utility.chip_info import get_gfx


@pytest.fixture(autouse=True)
def _keep_the_process_tally():
    """The checks these tests fail on purpose stay out of this process's
    exit-time tally (a run under AITER_TEST_STRICT=1 would exit 1)."""
    tally = aiter.test_common._tally
    saved = dict(vars(tally))
    yield
    vars(tally).update(saved)


@pytest.fixture
def logged(caplog):
    """What aiter.logger logged (it does not propagate, so caplog's handler is added to it)."""
    aiter.logger.addHandler(caplog.handler)
    caplog.set_level("INFO", logger="aiter")
    yield caplog
    aiter.logger.removeHandler(caplog.handler)


# ------------------------------------------------------------ checkAllclose
def test_check_allclose_passes_with_zero(logged):
    a = torch.linspace(-1, 1, 100)
    assert checkAllclose(a, a + 0.005, msg="near ") == 0
    assert "near [checkAllclose atol=0.01 rtol=0.01" in logged.text and "passed~" in logged.text


def test_check_allclose_returns_the_mismatch_ratio(logged):
    a = torch.zeros(200)
    b = a.clone()
    b[:3] = 1.0  # 1.5 % off: under tol_err_ratio, a warning
    assert checkAllclose(a, b) == pytest.approx(3 / 200)
    assert "warning!" in logged.text and "1.5% (3 of 200)" in logged.text
    b[:50] = 1.0  # 25 % off: failed, still only returned
    assert checkAllclose(a, b) == pytest.approx(0.25)
    assert "failed!" in logged.text


def test_check_allclose_raises_only_on_catastrophic_error():
    a, b = torch.zeros(100), torch.zeros(100)
    b[0] = 0.6  # above half of max(|b|.max(), 1) = 0.5
    assert checkAllclose(a, b) == pytest.approx(0.01)  # no opt-in: a number, no exception
    with pytest.raises(AssertionError, match="catastrophic"):
        checkAllclose(a, b, catastrophic_check=True)
    with pytest.raises(AssertionError, match="catastrophic"):
        checkAllclose(a, b, max_abs_delta=0.1)
    assert checkAllclose(a, b, max_abs_delta=1.0) == pytest.approx(0.01)
    nan = a.clone()
    nan[5] = float("nan")
    with pytest.raises(AssertionError, match="catastrophic"):
        checkAllclose(nan, a, catastrophic_check=True)
    # The quiet form (printLog=False) never raises: 1.0 marks the catastrophe.
    assert checkAllclose(a, b, printLog=False, catastrophic_check=True) == 1.0


# ------------------------------------------------------------ perftest
def test_perftest_returns_the_result_and_a_time(device):
    @perftest(num_iters=5)
    def double(x):
        return x * 2

    x = torch.arange(6.0, device=device)
    (result), avg = double(x)
    assert torch.equal(result, x * 2)
    assert isinstance(avg, float) and avg > 0


def test_perftest_runs_an_in_place_op_once_on_the_callers_tensors(device):
    """Timing calls run on copies: the caller's tensors, and the result,
    are those of exactly one call however many times the op is timed."""
    calls = []

    @perftest(num_iters=7, num_warmup=3)
    def bump(x, delta):
        calls.append(1)
        x.add_(delta)
        return x

    x = torch.zeros(4, device=device)
    result, _ = bump(x, 1.0)
    assert len(calls) > 1, "the op was not timed"
    assert result is x and torch.equal(x, torch.ones(4, device=device))


def test_perftest_copies_keep_views_of_one_buffer(device):
    """Q and K split from one buffer stay views of one storage in every timed call."""
    shared = []

    @perftest(num_iters=4)
    def probe(q, k):
        shared.append(q.untyped_storage().data_ptr() == k.untyped_storage().data_ptr() and q.stride() == (12, 1))
        return q.sum()

    buf = torch.randn(3, 12, device=device)
    q, k = torch.split(buf, [8, 4], dim=-1)
    probe(q, k)
    assert len(shared) > 1 and all(shared)


def test_perftest_cpu_timing_stops_at_its_budget(monkeypatch):
    monkeypatch.setenv("AITER_PERFTEST_CPU_S", "0")
    calls = []

    @perftest(num_iters=1000)
    def f():
        calls.append(1)

    f()
    assert len(calls) == 2  # the caller's call and one timed call


# ------------------------------------------------------------ benchmark
def test_benchmark_returns_the_arguments_and_the_result_row(logged):
    @benchmark()
    def case(m, n, dtype=torch.bfloat16, extra=None):
        return {"us": 1.5, "m": m * 10}

    row = case(2, n=3)
    assert row == {"m": 20, "n": 3, "dtype": torch.bfloat16, "extra": None, "us": 1.5}
    assert "calling case(" in logged.text and "n = 3" in logged.text

    @benchmark()
    def nothing(a):
        return None

    assert nothing(1) == {"a": 1}


# ------------------------------------------------------------ strict mode, the exit tally, the logger
def run_snippet(code, tmp_path, **env):
    summary = tmp_path / "summary.json"
    full_env = dict(os.environ, AITER_TEST_SUMMARY=str(summary), **env)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env, capture_output=True,
                          text=True, timeout=300)
    return proc, json.loads(summary.read_text())


FAILING = """
    import torch
    from aiter.test_common import checkAllclose
    checkAllclose(torch.zeros(10), torch.zeros(10))
    checkAllclose(torch.zeros(10), torch.ones(10), msg="off ")
    print("reached the end")
"""


def test_strict_mode_exits_1_after_a_failed_check(tmp_path):
    proc, counts = run_snippet(FAILING, tmp_path, AITER_TEST_STRICT="1")
    assert proc.returncode == 1, proc.stderr
    assert "reached the end" in proc.stdout  # the checks still all run
    assert counts == {"checks": 2, "passed": 1, "warned": 0, "failed": 1}
    assert "1 checkAllclose check(s) failed" in proc.stderr


def test_without_strict_mode_failures_only_log(tmp_path):
    proc, counts = run_snippet(FAILING, tmp_path, AITER_TEST_STRICT="0")
    assert proc.returncode == 0, proc.stderr
    assert counts["failed"] == 1
    assert "[aiter] off [checkAllclose atol=0.01 rtol=0.01" in proc.stderr  # aiter.logger's format, on stderr


def test_strict_mode_passes_a_clean_run(tmp_path):
    code = """
        import torch
        from aiter.test_common import checkAllclose
        a = torch.zeros(10)
        b = a.clone()
        b[0] = 1.0  # 10 % off with tol_err_ratio 0.2: a warning, not a failure
        checkAllclose(a, a)
        checkAllclose(a, b, tol_err_ratio=0.2)
    """
    proc, counts = run_snippet(code, tmp_path, AITER_TEST_STRICT="1")
    assert proc.returncode == 0, proc.stderr
    assert counts == {"checks": 2, "passed": 1, "warned": 1, "failed": 0}


# ------------------------------------------------------------ dtypes, QuantType, get_gfx
def test_str2dtype_reads_names_quant_types_and_lists():
    assert dtypes.str2Dtype("bf16") is torch.bfloat16
    assert dtypes.str2Dtype("none") is None
    assert dtypes.str2Dtype("per_token") is QuantType.per_Token
    assert dtypes.str2Dtype("fp16,bf16") == (torch.float16, torch.bfloat16)
    assert dtypes.str2Dtype("i8,") == (torch.int8,)
    with pytest.raises(argparse.ArgumentTypeError, match="float33"):
        dtypes.str2Dtype("float33")


def test_fp8_is_e4m3fn_off_gfx942():
    assert torch.version.hip is None or get_gfx() != "gfx942"  # (this suite runs on CPU and CUDA machines)
    assert dtypes.fp8 is torch.float8_e4m3fn
    assert dtypes.d_dtypes["fp8"] is dtypes.fp8


def test_get_gfx_honours_gpu_archs(monkeypatch):
    monkeypatch.setenv("GPU_ARCHS", "gfx942;gfx950")
    get_gfx.cache_clear()
    try:
        assert get_gfx() == "gfx950"  # the last entry, as upstream
        monkeypatch.delenv("GPU_ARCHS")
        get_gfx.cache_clear()
        want = "cpu" if not torch.cuda.is_available() else None
        if want:
            assert get_gfx() == want
        else:
            assert get_gfx().startswith(("sm_", "gfx"))
    finally:
        get_gfx.cache_clear()


# ------------------------------------------------------------ the torch quant references
def test_pertoken_quant_matches_its_formula():
    x = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0], [3.0, 1.4, -0.7]])
    y, scale = aiter.pertoken_quant(x)
    want_scale = torch.tensor([[2.0 / 127], [1.0], [3.0 / 127]])  # an all-zero row gets scale 1
    assert torch.allclose(scale, want_scale) and scale.dtype == torch.float32
    assert torch.equal(y, (x / want_scale).to(torch.int8))  # .to truncates toward zero
    assert y[2, 1] == 59  # 1.4 * 127 / 3 = 59.27
    xs = torch.tensor([2.0, 1.0, 4.0])
    y8, s8 = aiter.pertoken_quant(x, x_scale=xs, quant_dtype=torch.float8_e4m3fn)
    assert torch.allclose(s8[0], torch.tensor([2.0 / 448]))  # max |[1, -2, 0.5] * [2, 1, 4]| = 2
    assert torch.equal(y8, ((x * xs) / s8).to(torch.float8_e4m3fn))


def test_get_torch_quant_covers_what_the_norm_tests_use():
    x = torch.randn(4, 256)
    assert aiter.get_torch_quant(QuantType.per_Token) is aiter.pertoken_quant
    same, none = aiter.get_torch_quant(QuantType.No)(x, quant_dtype=torch.int8)
    assert same is x and none is None
    y, s = aiter.get_torch_quant(QuantType.per_1x128)(x, quant_dtype=torch.float8_e4m3fn)
    assert y.shape == (4, 256) and s.shape == (4, 2)
    assert torch.allclose(s[:, 1], x[:, 128:].abs().amax(-1) / 448)
    _, st = aiter.get_torch_quant(QuantType.per_Tensor)(x)
    assert st.shape == (1,) and torch.allclose(st, x.abs().max() / 127)
    with pytest.raises(NotImplementedError, match="per_1x32"):
        aiter.get_torch_quant(QuantType.per_1x32)(x)


def test_mxfp4_to_f32_decodes_every_byte():
    def e2m1(code):  # sign bit 3, exponent bits 2-1 (bias 1), mantissa bit 0
        sign = -1.0 if code & 8 else 1.0
        exp, man = (code >> 1) & 3, code & 1
        return sign * (man * 0.5 if exp == 0 else 2.0 ** (exp - 1) * (1 + man / 2))

    packed = torch.arange(256, dtype=torch.uint8).view(16, 16)
    got = fp4_utils.mxfp4_to_f32(packed)
    assert got.shape == (16, 32) and got.dtype == torch.float32
    want = torch.tensor([[e2m1(b & 15), e2m1(b >> 4)] for b in range(256)]).view(16, 32)
    assert torch.equal(got, want) and torch.equal(torch.signbit(got), torch.signbit(want))
    assert torch.equal(fp4_utils.mxfp4_to_f32(packed.view(torch.float4_e2m1fn_x2)), got)
