"""Layout conformance of aiter's RMSNorm entry points, against ANY installed aiter.

Self-contained: uses only ``import aiter`` (public functions) and torch, with
its own float64 reference, so it can be dropped into upstream aiter's
op_tests/ unchanged.

Device: cuda when available, else cpu. If the installed aiter cannot run on
the CPU (upstream's kernels are GPU-only), the CPU run skips cleanly: a tiny
probe call runs in a subprocess first, so a crash there cannot take pytest
down.

Pointing it at another aiter install: run it from a directory that does not
shadow that install, with that install first on sys.path, e.g.

    cd /tmp && python -m pytest -q /path/to/test_aiter_conformance.py
    cd /tmp && PYTHONPATH=/opt/upstream-aiter python -m pytest -q /path/to/test_aiter_conformance.py

The module prints which aiter it imported (``-s`` shows it; the path also
appears in the header of every failure through ``AITER_FILE``).

Caveat: an aiter whose launcher mis-reads a strided view may read or write
out of bounds. On a GPU that can end in an illegal-memory-access error that
poisons the CUDA context for the rest of the session; run the seed cases on
their own (``-k seed``) or with pytest-forked (``--forked``) to keep the
other results.

Covers:
  * the seed layouts: Qwen3 Q/K-norm on a packed QKV projection,
    ``qkv[:, :4096].view(T, 32, 128)`` (stride (6144, 128, 1)) and the K
    slice ``(T, 8, 128)``; plain and with a residual, through every entry
    point the install has;
  * odd hidden sizes (769, 8193) whose rows sit in storage with a canary row
    between every two (row pitch 2 * hidden), inputs and outputs alike;
  * bad-input basics: a weight of the wrong length raises and leaves the
    output untouched.
"""
import os
import subprocess
import sys

import pytest
import torch

import aiter

AITER_FILE = getattr(aiter, "__file__", "?")
print(f"[conformance] aiter from {AITER_FILE} (version {getattr(aiter, '__version__', '?')})")

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
EPS = 1e-6
CANARY = -7777.0  # exact in fp16, bf16 and fp32
HQ, HKV, D = 32, 8, 128
QKV_WIDTH = (HQ + 2 * HKV) * D  # 6144
TOL = {torch.float32: (2e-5, 2e-5), torch.float16: (2e-3, 4e-3), torch.bfloat16: (1.6e-2, 1.6e-2)}
DTYPES = [torch.bfloat16, torch.float16, torch.float32]


def _cpu_supported():
    probe = (
        "import torch, aiter\n"
        "x = torch.randn(3, 8)\n"
        "y = aiter.rms_norm(x, torch.ones(8), 1e-6)\n"
        "r = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)\n"
        "assert torch.allclose(y, r, atol=1e-4, rtol=1e-4)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    try:
        res = subprocess.run([sys.executable, "-c", probe], env=env, cwd=os.getcwd(), capture_output=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0


if DEVICE == "cpu" and not _cpu_supported():
    pytest.skip(f"the installed aiter ({AITER_FILE}) does not run on the CPU and no CUDA device is present",
                allow_module_level=True)


def _need(name):
    fn = getattr(aiter, name, None)
    if fn is None:
        pytest.skip(f"aiter.{name} is not in this install")
    return fn


# --- float64 reference ------------------------------------------------------


def ref_rmsnorm(x, w):
    x64 = x.double()
    return x64 * torch.rsqrt(x64.pow(2).mean(-1, keepdim=True) + EPS) * w.double()


def ref_add_rmsnorm(x, r, w):
    s = (x.double() + r.double()).to(x.dtype)  # the sum as stored
    return ref_rmsnorm(s, w), s


def check(actual, expected64, dtype, what):
    atol, rtol = TOL[dtype]
    assert actual.shape == expected64.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected64.shape)}"
    err = (actual.double() - expected64).abs()
    bad = err > atol + rtol * expected64.abs()
    assert not bool(bad.any()), (
        f"{what}: {int(bad.sum())}/{bad.numel()} elements wrong, max abs error {err.max().item():.3g} "
        f"({dtype}, aiter {AITER_FILE})"
    )


def bits(t):
    t = t.contiguous()
    return t.view(torch.int16 if t.element_size() == 2 else torch.int32)


def same_bits(a, b):
    return torch.equal(bits(a), bits(b))


def randn(shape, dtype, seed, scale=1.0, shift=0.0):
    g = torch.Generator(device="cpu").manual_seed(seed)
    return (torch.randn(shape, generator=g) * scale + shift).to(device=DEVICE, dtype=dtype)


# --- the seed layouts ---------------------------------------------------------

SEED_T = 2048


def seed_view(which, dtype, seed, t=SEED_T):
    """(packed qkv buffer, the Q or K slice as (T, H, D))."""
    qkv = randn((t, QKV_WIDTH), dtype, seed)
    if which == "q":
        v = qkv[:, : HQ * D].view(t, HQ, D)
    else:
        v = qkv[:, HQ * D : (HQ + HKV) * D].view(t, HKV, D)
    assert v.stride() == (QKV_WIDTH, D, 1)
    return qkv, v


SEED_PARAMS = [(w, dt) for w in ("q", "k") for dt in (torch.bfloat16, torch.float16)]
SEED_IDS = [f"seed_{w}_{str(dt).split('.')[-1]}" for w, dt in SEED_PARAMS]


@pytest.mark.parametrize("entry", ["rms_norm", "rmsnorm2d_fwd"])
@pytest.mark.parametrize("which,dtype", SEED_PARAMS, ids=SEED_IDS)
def test_seed_plain_returning(entry, which, dtype):
    fn = _need(entry)
    qkv, x = seed_view(which, dtype, 1)
    before = qkv.clone()
    w = randn((D,), dtype, 2, 0.1, 1.0)
    y = fn(x, w, EPS)
    check(y, ref_rmsnorm(x, w), dtype, f"aiter.{entry} on the seed {which} slice")
    assert same_bits(qkv, before), f"aiter.{entry} wrote into its input"


@pytest.mark.parametrize("which,dtype", SEED_PARAMS, ids=SEED_IDS)
def test_seed_plain_into_strided_out(which, dtype):
    """rms_norm_cu writing into the matching slice of another packed buffer:
    everything outside that slice must keep its canary."""
    fn = _need("rms_norm_cu")
    _, x = seed_view(which, dtype, 3)
    w = randn((D,), dtype, 4, 0.1, 1.0)
    out_buf = torch.full((SEED_T, QKV_WIDTH), CANARY, dtype=dtype, device=DEVICE)
    lo = 0 if which == "q" else HQ * D
    hi = lo + x.shape[1] * D
    out = out_buf[:, lo:hi].view(x.shape)
    fn(out, x, w, EPS)
    check(out, ref_rmsnorm(x, w), dtype, f"aiter.rms_norm_cu on the seed {which} slice")
    outside = torch.cat([out_buf[:, :lo], out_buf[:, hi:]], dim=1)
    assert bool((outside == CANARY).all()), "aiter.rms_norm_cu wrote outside its output slice"


@pytest.mark.parametrize("which,dtype", SEED_PARAMS, ids=SEED_IDS)
def test_seed_residual_with_add(which, dtype):
    fn = _need("rmsnorm2d_fwd_with_add")
    qkv, x = seed_view(which, dtype, 5)
    _, r = seed_view(which, dtype, 6)  # the residual is a strided slice too
    before_x, before_r = qkv.clone(), r.clone()
    w = randn((D,), dtype, 7, 0.1, 1.0)
    out = torch.empty_like(x)
    r_out = torch.empty_like(x)
    fn(out, x, r, r_out, w, EPS)
    ref_out, ref_sum = ref_add_rmsnorm(x, r, w)
    check(r_out, ref_sum, dtype, f"rmsnorm2d_fwd_with_add residual_out, seed {which}")
    check(out, ref_out, dtype, f"rmsnorm2d_fwd_with_add out, seed {which}")
    assert same_bits(qkv, before_x) and same_bits(r, before_r), "inputs were written"


@pytest.mark.parametrize("which,dtype", SEED_PARAMS, ids=SEED_IDS)
def test_seed_residual_in_place(which, dtype):
    """fused_add_rms_norm_cu in place on the slice; the rest of the packed
    buffer (the other heads and V) must be untouched."""
    fn = _need("fused_add_rms_norm_cu")
    qkv, x = seed_view(which, dtype, 8)
    r = randn(x.shape, dtype, 9)
    w = randn((D,), dtype, 10, 0.1, 1.0)
    ref_out, ref_sum = ref_add_rmsnorm(x, r, w)
    lo = 0 if which == "q" else HQ * D
    hi = lo + x.shape[1] * D
    outside_before = torch.cat([qkv[:, :lo], qkv[:, hi:]], dim=1).clone()
    fn(x, r, w, EPS)
    check(r, ref_sum, dtype, f"fused_add_rms_norm_cu residual, seed {which}")
    check(x, ref_out, dtype, f"fused_add_rms_norm_cu input, seed {which}")
    assert same_bits(torch.cat([qkv[:, :lo], qkv[:, hi:]], dim=1), outside_before), "wrote outside the slice"


# --- odd hidden sizes with canary rows between --------------------------------


class Interleaved:
    """rows x hidden view over storage with a canary row before, between and
    after every data row (row pitch 2 * hidden)."""

    def __init__(self, rows, hidden, dtype, seed=None):
        self.storage = torch.full((2 * rows + 1, hidden), CANARY, dtype=dtype, device=DEVICE)
        self.view = self.storage[1::2]
        if seed is not None:
            self.view.copy_(randn((rows, hidden), dtype, seed))
        self.snapshot = self.storage.clone()

    def canaries_intact(self):
        return same_bits(self.storage[0::2], self.snapshot[0::2])

    def unchanged(self):
        return same_bits(self.storage, self.snapshot)


ODD = [(769, 5), (8193, 3)]
ODD_IDS = [f"h{h}" for h, _ in ODD]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden,rows", ODD, ids=ODD_IDS)
def test_odd_hidden_plain(hidden, rows, dtype):
    fn = _need("rms_norm_cu")
    x = Interleaved(rows, hidden, dtype, seed=hidden)
    out = Interleaved(rows, hidden, dtype)
    w = randn((hidden,), dtype, 11, 0.1, 1.0)
    fn(out.view, x.view, w, EPS)
    check(out.view, ref_rmsnorm(x.view, w), dtype, f"rms_norm_cu hidden {hidden}")
    assert out.canaries_intact(), f"rms_norm_cu hidden {hidden}: a canary row of out was written"
    assert x.unchanged(), f"rms_norm_cu hidden {hidden}: the input storage was written"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden,rows", ODD, ids=ODD_IDS)
def test_odd_hidden_returning(hidden, rows, dtype):
    fn = _need("rms_norm")
    x = Interleaved(rows, hidden, dtype, seed=hidden + 1)
    w = randn((hidden,), dtype, 12, 0.1, 1.0)
    y = fn(x.view, w, EPS)
    check(y, ref_rmsnorm(x.view, w), dtype, f"rms_norm hidden {hidden}")
    assert x.unchanged()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden,rows", ODD, ids=ODD_IDS)
def test_odd_hidden_with_add(hidden, rows, dtype):
    fn = _need("rmsnorm2d_fwd_with_add")
    x = Interleaved(rows, hidden, dtype, seed=hidden + 2)
    r = Interleaved(rows, hidden, dtype, seed=hidden + 3)
    out = Interleaved(rows, hidden, dtype)
    r_out = Interleaved(rows, hidden, dtype)
    w = randn((hidden,), dtype, 13, 0.1, 1.0)
    fn(out.view, x.view, r.view, r_out.view, w, EPS)
    ref_out, ref_sum = ref_add_rmsnorm(x.view, r.view, w)
    check(r_out.view, ref_sum, dtype, f"rmsnorm2d_fwd_with_add residual_out hidden {hidden}")
    check(out.view, ref_out, dtype, f"rmsnorm2d_fwd_with_add out hidden {hidden}")
    assert out.canaries_intact() and r_out.canaries_intact(), "a canary row of an output was written"
    assert x.unchanged() and r.unchanged(), "an input was written"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden,rows", ODD, ids=ODD_IDS)
def test_odd_hidden_in_place(hidden, rows, dtype):
    fn = _need("fused_add_rms_norm_cu")
    x = Interleaved(rows, hidden, dtype, seed=hidden + 4)
    r = Interleaved(rows, hidden, dtype, seed=hidden + 5)
    w = randn((hidden,), dtype, 14, 0.1, 1.0)
    ref_out, ref_sum = ref_add_rmsnorm(x.view, r.view, w)
    fn(x.view, r.view, w, EPS)
    check(r.view, ref_sum, dtype, f"fused_add_rms_norm_cu residual hidden {hidden}")
    check(x.view, ref_out, dtype, f"fused_add_rms_norm_cu input hidden {hidden}")
    assert x.canaries_intact() and r.canaries_intact(), "a canary row was written"


# --- bad inputs ---------------------------------------------------------------


@pytest.mark.parametrize("delta", [-1, 1])
def test_wrong_weight_length_plain(delta):
    fn = _need("rms_norm_cu")
    hidden, dtype = 256, torch.bfloat16
    x = randn((4, hidden), dtype, 15)
    out = torch.full((4, hidden), CANARY, dtype=dtype, device=DEVICE)
    w = randn((hidden + delta,), dtype, 16)
    with pytest.raises(Exception):
        fn(out, x, w, EPS)
        if DEVICE == "cuda":
            torch.cuda.synchronize()
    assert bool((out == CANARY).all()), "out was written before the error"


@pytest.mark.parametrize("delta", [-1, 1])
def test_wrong_weight_length_with_add(delta):
    fn = _need("rmsnorm2d_fwd_with_add")
    hidden, dtype = 256, torch.bfloat16
    x = randn((4, hidden), dtype, 17)
    r = randn((4, hidden), dtype, 18)
    out = torch.full((4, hidden), CANARY, dtype=dtype, device=DEVICE)
    r_out = torch.full((4, hidden), CANARY, dtype=dtype, device=DEVICE)
    w = randn((hidden + delta,), dtype, 19)
    with pytest.raises(Exception):
        fn(out, x, r, r_out, w, EPS)
        if DEVICE == "cuda":
            torch.cuda.synchronize()
    assert bool((out == CANARY).all()) and bool((r_out == CANARY).all()), "an output was written before the error"


def test_wrong_weight_length_in_place():
    fn = _need("fused_add_rms_norm_cu")
    hidden, dtype = 256, torch.bfloat16
    x = randn((4, hidden), dtype, 20)
    r = randn((4, hidden), dtype, 21)
    x0, r0 = x.clone(), r.clone()
    w = randn((hidden - 1,), dtype, 22)
    with pytest.raises(Exception):
        fn(x, r, w, EPS)
        if DEVICE == "cuda":
            torch.cuda.synchronize()
    assert same_bits(x, x0) and same_bits(r, r0), "input or residual was written before the error"


def test_wrong_weight_length_returning():
    fn = _need("rms_norm")
    x = randn((4, 256), torch.bfloat16, 23)
    with pytest.raises(Exception):
        fn(x, randn((255,), torch.bfloat16, 24), EPS)
        if DEVICE == "cuda":
            torch.cuda.synchronize()
