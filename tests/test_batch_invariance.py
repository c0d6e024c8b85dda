"""A row's result does not depend on how many rows share the launch: the
first rows of a big batch (many rows per SM) are bitwise equal to the same
rows normalised alone (decode launches; where TargetInfo::decode_split
applies, the quantising variants by default and every variant under
AITER_LAUNCH_TUNE=decode_split=1, these spread long rows over more threads:
LaunchConfig::split; dense-row RMSNorm decode launches of 2048 and 4096 run
several blocks per row, each reducing the whole row: slice_shift; the fused
add's of 1000 and 2048 in bf16 and 1000 in fp32 split rows a thread per
vector: TargetInfo::dense_decode_split). Covers
every reduction the kernels run: the sum of squares, LayerNorm's mean and
variance, the quant row max and group max, with and without the fused
residual add."""
import os
import subprocess
import sys

import pytest
import torch

import aiter
from aiter import tuning
from helpers import table_specs

EPS = 1e-6
# Long rows (decode_split applies) at 16-byte and scalar vector widths; 769 and
# 1000 leave the last lanes' chunks partly outside the row.
HIDDEN = [769, 1000, 2048, 4096]
DTYPES = [torch.bfloat16, torch.float32]


def many_rows(device):
    sms = torch.cuda.get_device_properties(device).multi_processor_count if device == "cuda" else 132
    return 2 * sms + 3


def operands(device, dtype, hidden, rows):
    gen = torch.Generator().manual_seed(hidden * 7 + rows)
    x = (3 * torch.randn(rows, hidden, generator=gen) + 0.5).to(dtype).to(device)
    r = torch.randn(rows, hidden, generator=gen).to(dtype).to(device)
    w = (1 + 0.2 * torch.randn(hidden, generator=gen)).to(dtype).to(device)
    b = (0.1 * torch.randn(hidden, generator=gen)).to(dtype).to(device)
    return x, r, w, b


def rms(x, r, w, b):
    return (aiter.rms_norm(x, w, EPS),)


def add_rms(x, r, w, b):
    out, r_out = torch.empty_like(x), torch.empty_like(x)
    aiter.rmsnorm2d_fwd_with_add(out, x, r, r_out, w, EPS)
    return out, r_out


def layer(x, r, w, b):
    return (aiter.layernorm2d_fwd(x, w, b, 1e-5),)


def add_layer(x, r, w, b):
    out, r_out = torch.empty_like(x), torch.empty_like(x)
    aiter.layernorm2d_fwd_with_add(out, x, r, r_out, w, b, 1e-5)
    return out, r_out


def dyn_quant_int8(x, r, w, b):
    out = torch.empty(x.shape, dtype=torch.int8, device=x.device)
    ys = torch.empty(x.shape[0], 1, device=x.device)
    aiter.rmsnorm2d_fwd_with_dynamicquant(out, x, ys, w, EPS)
    return out, ys


def group_quant_fp8(x, r, w, b):
    out = torch.empty(x.shape, dtype=torch.float8_e4m3fn, device=x.device)
    ys = torch.empty(x.shape[0], x.shape[-1] // 128, device=x.device)
    aiter.rmsnorm2d_fwd_with_dynamicquant(out, x, ys, w, EPS, 0, 128)
    return out.view(torch.uint8), ys


def add_smooth_quant_int8(x, r, w, b):
    out = torch.empty(x.shape, dtype=torch.int8, device=x.device)
    ys = torch.empty(x.shape[0], 1, device=x.device)
    r_out = torch.empty_like(x)
    xscale = (1 + b.float().abs()).contiguous()
    aiter.rmsnorm2d_fwd_with_add_smoothquant(out, x, r, r_out, xscale, ys, w, EPS)
    return out, ys, r_out


# Group scales of 128 columns need hidden % 128 == 0.
CASES = [(op, h) for op in (rms, add_rms, layer, add_layer, dyn_quant_int8, group_quant_fp8, add_smooth_quant_int8)
         for h in HIDDEN
         if op is not group_quant_fp8 or h % 128 == 0]


@pytest.mark.parametrize("op,hidden", CASES, ids=[f"{op.__name__}-{h}" for op, h in CASES])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("few", [1, 5])
def test_row_result_independent_of_batch_size(device, op, hidden, dtype, few):
    x, r, w, b = operands(device, dtype, hidden, many_rows(device))
    batch = op(x, r, w, b)
    alone = op(x[:few].clone(), r[:few].clone(), w, b)
    for got, want in zip(alone, batch):
        assert torch.equal(got, want[:few]), (
            f"{op.__name__}: rows 0..{few - 1} differ between a {few}-row launch and a "
            f"{x.shape[0]}-row launch (hidden {hidden}, {dtype})")


def test_split_decode_launches_match_the_batch(device):
    """The check above under AITER_LAUNCH_TUNE=decode_split=1, whose decode
    launches spread each long row over one thread per vector and gather the
    partial sums in the unsplit order. The launcher reads the variable once
    per process, so the check runs in a child process."""
    if device != "cuda":
        pytest.skip("decode_split is a GPU launch policy")
    env = dict(os.environ, AITER_LAUNCH_TUNE="decode_split=1")
    child = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__,
                            "-k", "test_row_result_independent_of_batch_size and cuda"],
                           env=env, capture_output=True, text=True, cwd=os.path.dirname(__file__))
    assert child.returncode == 0, child.stdout[-3000:] + child.stderr[-2000:]
    assert " passed" in child.stdout and "skipped" not in child.stdout, child.stdout[-1000:]


def add_dyn_quant_int8(x, r, w, b):
    out = torch.empty(x.shape, dtype=torch.int8, device=x.device)
    ys = torch.empty(x.shape[0], 1, device=x.device)
    r_out = torch.empty_like(x)
    aiter.rmsnorm2d_fwd_with_add_dynamicquant(out, x, r, r_out, ys, w, EPS)
    return out, ys, r_out


# Launches of many waves: the general kernel's blocks take several row groups
# and stage the next group's inputs in shared memory while they work on the
# current one (LaunchConfig::stage_rows); RMSNorm and the fused add take the
# dense-row kernel (a block per row group). Every row of such a launch must
# equal the same row from launches of at most one row per SM (decode
# launches: nothing staged). Short rows (128: many rows per
# block) and long rows (4096, 2048 for fp32: one row per block) with and
# without the residual add.
WAVE_CASES = [(op, h) for op in (rms, add_rms, layer, add_layer, dyn_quant_int8, add_dyn_quant_int8,
                                 group_quant_fp8) for h in (128, 4096)]


@pytest.mark.parametrize("op,hidden", WAVE_CASES, ids=[f"{op.__name__}-{h}" for op, h in WAVE_CASES])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_multi_wave_launch_matches_single_wave_launches(device, op, hidden, dtype):
    if device != "cuda":
        pytest.skip("the CPU backend has no waves; test_row_result_independent_of_batch_size covers it")
    sms = torch.cuda.get_device_properties(device).multi_processor_count
    # Enough rows for several waves whatever the occupancy: 2048 resident
    # threads per SM at most, one 16-byte vector per thread at least.
    per_vector = 16 // torch.tensor([], dtype=dtype).element_size()
    rows = 3 * sms * 2048 * per_vector // hidden + 7
    x, r, w, b = operands(device, dtype, hidden, rows)
    batch = op(x, r, w, b)
    for first in range(0, rows, sms):
        part = op(x[first:first + sms].clone(), r[first:first + sms].clone(), w, b)
        for got, want in zip(part, batch):
            assert torch.equal(got, want[first:first + sms]), (
                f"{op.__name__}: rows {first}..{first + sms - 1} of a {rows}-row launch differ from "
                f"the same rows launched alone (hidden {hidden}, {dtype})")


# ---------------------------------------------------------------- per-GPU tables
# Tuning never changes results: under every launch table the tests know
# (tests/helpers.py: table_specs: each committed per-GPU table, each value the
# tuner sweeps, all keys at once) every op gives the same bits as under the
# derived defaults, for decode launches, a batch, a many-wave launch and the
# strided Q/K slices. With the defaults batch-invariant (above), so is each table.
def _packed_qk(rows, head_dim, dtype, device):
    gen = torch.Generator().manual_seed(rows + head_dim)
    qkv = (2 * torch.randn(rows, 12 * head_dim, generator=gen)).to(dtype).to(device)
    w = (1 + 0.2 * torch.randn(head_dim, generator=gen)).to(dtype).to(device)
    return qkv, w


def _qk_outputs(qkv, w):
    head_dim = qkv.shape[1] // 12
    q = qkv[:, :8 * head_dim].view(qkv.shape[0], 8, head_dim)
    k = qkv[:, 8 * head_dim:10 * head_dim].view(qkv.shape[0], 2, head_dim)
    q_out, k_out = torch.empty(q.shape, dtype=q.dtype, device=q.device), torch.empty(k.shape, dtype=k.dtype,
                                                                                    device=k.device)
    aiter.qk_rmsnorm(q, k, w, w, EPS, q_out, k_out)
    return q_out, k_out, aiter.rms_norm(q, w, EPS), aiter.rms_norm(k, w, EPS)


_TABLE_INPUTS = {}  # dtype -> [(what, op, inputs)]: made once (no op writes its inputs)
_DEFAULT_BITS = {}  # dtype -> the outputs under the derived defaults


def _table_inputs(device, dtype):
    """Every op over the row counts that take different launches: decode,
    a batch, a many-wave launch; and the strided Q/K slices."""
    if dtype not in _TABLE_INPUTS:
        sms = torch.cuda.get_device_properties(device).multi_processor_count if device == "cuda" else 4
        per_vector = 16 // torch.tensor([], dtype=dtype).element_size()
        items = []
        for op, hidden in CASES + [(add_dyn_quant_int8, h) for h in HIDDEN]:
            waves = 3 * sms * 2048 * per_vector // hidden + 7
            for rows in (1, 5, 2 * sms + 3) + ((waves,) if hidden in (128, 4096) else ()):
                items.append((f"{op.__name__} hidden {hidden} rows {rows}", op,
                              operands(device, dtype, hidden, rows)))
        for head_dim in (64, 128, 256):
            for rows in (1, 7, 2 * sms + 3, 3 * sms * 2048 // head_dim):
                items.append((f"qk slices head_dim {head_dim} rows {rows}", _qk_outputs,
                              _packed_qk(rows, head_dim, dtype, device)))
        _TABLE_INPUTS[dtype] = items
    return _TABLE_INPUTS[dtype]


def _run_all(device, dtype, spec):
    with tuning.tables({}), tuning.override(spec):
        return [(what, op(*inputs)) for what, op, inputs in _table_inputs(device, dtype)]


TABLE_SPECS = table_specs()


@pytest.mark.parametrize("name", list(TABLE_SPECS))
def test_every_table_gives_the_default_bits(device, name):
    if device != "cuda":
        pytest.skip("tables set the GPU launch policy")
    for dtype in DTYPES:
        if dtype not in _DEFAULT_BITS:
            _DEFAULT_BITS[dtype] = _run_all(device, dtype, "")
        got = _run_all(device, dtype, TABLE_SPECS[name])
        for (what, g), (_, w) in zip(got, _DEFAULT_BITS[dtype]):
            for a, b in zip(g, w):
                assert torch.equal(a, b), f"{name}: {what} ({dtype}) differs from the derived defaults' bits"
