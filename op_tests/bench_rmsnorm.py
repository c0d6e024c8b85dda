#!/usr/bin/env python3
"""Benchmark aiter's stride-aware RMSNorm against its peers.

For every case (a layout of the normalised tensor), dtype and token count T it
times:

  ours     aiter.rms_norm on the view as given (fused cases:
           aiter.rmsnorm2d_fwd_with_add into preallocated out/residual_out)
  eager    torch.nn.functional.rms_norm (fused: r = x + res; F.rms_norm(r))
  compile  the eager function under torch.compile (Inductor, dynamic=False,
           compiled afresh for each case/dtype/T)
  guard    what a caller that distrusts strides does: x.contiguous() (and
           residual.contiguous()) and then ours
  liger    Liger-Kernel's Triton RMSNorm on a contiguous 2D copy, when
           importable (fused: LigerFusedAddRMSNormFunction, when present)
  flashinfer  FlashInfer's header-only CUDA kernels (include/flashinfer/norm.cuh
           of the flashinfer-python wheel, built at bench time by
           op_tests/peers/flashinfer_norm.py; never a dependency) on the view
           as given where they take it: RMSNorm on 2D rows with one row
           stride, FusedAddRMSNorm (in place, as its API is) on 2D rows,
           QKRMSNorm on (T, heads, head_dim) views with token and head
           strides; the 3D fused add is not supported (no column there)
  copy     a device-to-device copy moving the same number of bytes (N read +
           N written), the bandwidth roof

Before a case is timed, every implementation's result is compared with eager;
a mismatch in ours aborts the run, a mismatch in a peer drops that peer's
number. A separate section measures the host cost of one call.

GPU (one command):
  python3 op_tests/bench_rmsnorm.py --json bench.json --md bench.md --plot bench.png
CPU smoke run:
  python3 op_tests/bench_rmsnorm.py --device cpu --quick --no-compile
"""

import argparse
import datetime
import functools
import importlib
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F

try:
    import aiter
except ImportError:  # --prewarm-compile runs before the extension is built
    aiter = None
from peers import flashinfer_norm

# ----------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------

QKV_WIDTH, HEAD_DIM = 6144, 128  # Qwen3-style packed QKV: Q 4096 | K 1024 | V 1024
ROW_PAD = 256  # extra columns of the row-strided 2D cases
HIDDENS = (2048, 4096, 8192, 16384)
ALL_TOKENS = (1, 8, 32, 128, 1024, 8192, 32768)
QUICK_TOKENS = (8, 1024)
QUICK_CASES = ("qk_q_strided", "qk_k_strided", "qk_q_contig", "2d_h4096",
               "2d_h4096_rowstrided", "add_h4096", "add_qk_strided")


def _randn(shape, dtype, device):
    return torch.randn(shape, dtype=dtype, device=device)


def qkv_slice(lo: int, hi: int) -> Callable:
    """x = qkv[:, lo:hi].view(T, heads, 128) of a (T, 6144) buffer."""
    def make(T, dtype, device):
        qkv = _randn((T, QKV_WIDTH), dtype, device)
        return qkv[:, lo:hi].view(T, (hi - lo) // HEAD_DIM, HEAD_DIM)
    return make


def contiguous(*row_shape: int) -> Callable:
    return lambda T, dtype, device: _randn((T, *row_shape), dtype, device)


def row_strided(hidden: int) -> Callable:
    """x = buf[:, :hidden] of a (T, hidden + 256) buffer."""
    return lambda T, dtype, device: _randn((T, hidden + ROW_PAD), dtype, device)[:, :hidden]


@dataclass(frozen=True)
class Case:
    name: str
    make_x: Callable  # (T, dtype, device) -> the input view
    hidden: int  # the normalised (last) dim
    rows_per_token: int  # rows normalised per token (heads)
    storage_per_token: int  # elements of x's storage per token
    fused: bool = False  # residual add + RMSNorm

    def elems(self, T: int) -> int:
        return T * self.rows_per_token * self.hidden

    def logical_bytes(self, T: int, elem_size: int) -> int:
        """Bytes an ideal kernel moves: read x (+ residual_in) and weight,
        write out (+ residual_out); logical elements, not storage."""
        tensors = 4 if self.fused else 2
        return elem_size * (tensors * self.elems(T) + self.hidden)

    def est_peak_bytes(self, T: int, elem_size: int) -> int:
        """Rough peak: input storage, a residual, three live outputs, the copy roof."""
        storage = elem_size * T * self.storage_per_token
        residual = elem_size * self.elems(T) if self.fused else 0
        outputs = 3 * elem_size * self.elems(T) * (2 if self.fused else 1)
        return storage + residual + outputs + self.logical_bytes(T, elem_size)


CASES = [
    Case("qk_q_strided", qkv_slice(0, 4096), HEAD_DIM, 32, QKV_WIDTH),
    Case("qk_k_strided", qkv_slice(4096, 5120), HEAD_DIM, 8, QKV_WIDTH),
    Case("qk_q_contig", contiguous(32, HEAD_DIM), HEAD_DIM, 32, 4096),
    *[c for h in HIDDENS for c in (
        Case(f"2d_h{h}", contiguous(h), h, 1, h),
        Case(f"2d_h{h}_rowstrided", row_strided(h), h, 1, h + ROW_PAD),
    )],
    Case("add_h4096", contiguous(4096), 4096, 1, 4096, fused=True),
    Case("add_qk_strided", qkv_slice(0, 4096), HEAD_DIM, 32, QKV_WIDTH, fused=True),
]

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# Tolerance against eager: a couple of output ulps (peers round differently,
# e.g. Liger's "llama" casting rounds x*rstd before the weight multiply).
TOLERANCE = {torch.bfloat16: 2e-2, torch.float16: 4e-3}


@dataclass
class CaseData:
    """The tensors of one (case, dtype, T)."""
    case: Case
    x: torch.Tensor
    res: Optional[torch.Tensor]
    w: torch.Tensor
    eps: float

    @property
    def hidden(self) -> int:
        return self.case.hidden

    def args(self) -> tuple:
        return (self.x, self.res, self.w) if self.case.fused else (self.x, self.w)

    def empty_like_x(self) -> torch.Tensor:
        return torch.empty(self.x.shape, dtype=self.x.dtype, device=self.x.device)


def make_data(case: Case, T: int, dtype, device, eps: float) -> CaseData:
    x = case.make_x(T, dtype, device)
    res = _randn(x.shape, dtype, device) if case.fused else None
    w = (1.0 + 0.1 * torch.randn(case.hidden, device=device)).to(dtype)
    return CaseData(case, x, res, w, eps)


# ----------------------------------------------------------------------------
# Implementations: build(d) -> zero-argument callable returning the output(s).
# A build raises Skip(reason) when the implementation cannot run here.
# ----------------------------------------------------------------------------

class Skip(Exception):
    pass


def torch_reference(d: CaseData) -> Callable:
    hidden, eps = d.hidden, d.eps
    if d.case.fused:
        def fused(x, res, w):
            r = x + res
            return F.rms_norm(r, (hidden,), w, eps), r
        return fused

    def plain(x, w):
        return F.rms_norm(x, (hidden,), w, eps)
    return plain


def build_ours(d: CaseData) -> Callable:
    if d.case.fused:
        return _ours_fused(d, lambda: (d.x, d.res))
    return functools.partial(aiter.rms_norm, d.x, d.w, d.eps)


def _ours_fused(d: CaseData, inputs: Callable) -> Callable:
    out, res_out = d.empty_like_x(), d.empty_like_x()

    def fn():
        x, res = inputs()
        aiter.rmsnorm2d_fwd_with_add(out, x, res, res_out, d.w, d.eps)
        return out, res_out
    return fn


def build_eager(d: CaseData) -> Callable:
    return functools.partial(torch_reference(d), *d.args())


def build_compile(d: CaseData) -> Callable:
    torch._dynamo.reset()  # one fresh compile per case; no recompile limit to hit
    compiled = torch.compile(torch_reference(d), dynamic=False)
    return functools.partial(compiled, *d.args())


def build_guard(d: CaseData) -> Callable:
    if d.case.fused:
        return _ours_fused(d, lambda: (d.x.contiguous(), d.res.contiguous()))
    x, w, eps, hidden = d.x, d.w, d.eps, d.hidden
    return lambda: aiter.rms_norm(x.contiguous().reshape(-1, hidden), w, eps)


def _liger_function(fused: bool):
    module, name = (("liger_kernel.ops.fused_add_rms_norm", "LigerFusedAddRMSNormFunction") if fused
                    else ("liger_kernel.ops.rms_norm", "LigerRMSNormFunction"))
    try:
        return getattr(importlib.import_module(module), name)
    except Exception as e:  # ImportError, or triton failing to initialise
        raise Skip(f"{module}.{name} not importable ({type(e).__name__}: {e})".splitlines()[0]) from None


def build_liger(d: CaseData) -> Callable:
    if d.x.device.type != "cuda":
        raise Skip("Liger needs a CUDA device")
    fn = _liger_function(d.case.fused)
    x, res, w, eps, hidden = d.x, d.res, d.w, d.eps, d.hidden
    # Positional (X, [R,] W, eps, offset, casting_mode): common to Liger versions.
    # Liger needs contiguous rows, so it pays the same copy as the guard.
    if d.case.fused:
        return lambda: fn.apply(x.contiguous().reshape(-1, hidden), res.contiguous().reshape(-1, hidden),
                                w, eps, 0.0, "llama")
    return lambda: fn.apply(x.contiguous().reshape(-1, hidden), w, eps, 0.0, "llama")


def _flashinfer():
    try:
        return flashinfer_norm.load()
    except flashinfer_norm.Unavailable as e:
        raise Skip(f"FlashInfer not available: {e}".splitlines()[0][:200]) from None


def build_flashinfer(d: CaseData) -> Callable:
    if d.x.device.type != "cuda":
        raise Skip("FlashInfer needs a CUDA device")
    x, w, eps = d.x, d.w, d.eps
    if d.case.fused and x.dim() != 2:
        raise Skip("FlashInfer's FusedAddRMSNorm takes 2D rows with one row stride")
    if x.dim() not in (2, 3):
        raise Skip(f"FlashInfer's norms take 2D rows or (T, heads, D) views, not {x.dim()}D")
    fi = _flashinfer()
    if d.case.fused:
        # In place (input <- normed, residual <- sum): its own copies of the
        # inputs, so the other implementations keep theirs. Each timed call
        # normalises the last call's output again; the bytes moved are the
        # same as ours (two tensors read, two written).
        xb, rb = x.clone(), d.res.clone()
        return lambda: fi.fused_add_rmsnorm(xb, rb, w, eps)
    out = d.empty_like_x()
    if x.dim() == 3:
        return lambda: fi.qk_rmsnorm(out, x, w, eps)
    return lambda: fi.rmsnorm(out, x, w, eps)


def flashinfer_status() -> str:
    """The header line for FlashInfer: its version, or why it is absent."""
    try:
        fi = flashinfer_norm.load()
    except flashinfer_norm.Unavailable as e:
        return f"not available ({str(e).splitlines()[0][:200]}): no FlashInfer column"
    return f"{fi.version} (header kernels of the flashinfer-python wheel, built at bench time)"


@dataclass(frozen=True)
class Impl:
    name: str
    build: Callable


OURS = Impl("ours", build_ours)
PEERS = [Impl("eager", build_eager), Impl("compile", build_compile),
         Impl("guard", build_guard), Impl("liger", build_liger), Impl("flashinfer", build_flashinfer)]
COPY = "copy"

# ----------------------------------------------------------------------------
# Correctness
# ----------------------------------------------------------------------------


def _as_tuple(out) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def compare(got, want, hidden: int, tol: float, chunk_elems: int = 1 << 26):
    """(max abs diff, worst diff / (tol + tol*|want|)) over all outputs, in row chunks."""
    max_abs, worst = 0.0, 0.0
    for g, r in zip(_as_tuple(got), _as_tuple(want), strict=True):
        if g.numel() != r.numel():
            return math.inf, math.inf
        g2, r2 = g.reshape(-1, hidden), r.reshape(-1, hidden)
        step = max(1, chunk_elems // hidden)
        for i in range(0, g2.shape[0], step):
            a, b = g2[i:i + step].float(), r2[i:i + step].float()
            diff = (a - b).abs()
            if not torch.isfinite(a).all():
                return math.inf, math.inf
            max_abs = max(max_abs, diff.max().item())
            worst = max(worst, (diff / (tol + tol * b.abs())).max().item())
    return max_abs, worst


# ----------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


class Timer:
    """Median time of fn in microseconds.

    cuda: CUDA events around each call, after zeroing one persistent 256 MB
    buffer (L2 cold); time_rounds times a case's implementations together
    (interleaved). triton.testing.do_bench does the same with a buffer
    allocated per call; in one H100 run it timed one kernel (2d_h4096,
    T = 1024) at 8.7-9.5 us from call to call, where CUPTI gave the kernel
    one duration and a loop over one persistent buffer 9.09-9.20 us.
    `--timer do_bench` keeps triton's.
    cpu: time.perf_counter median, no cache flush.
    """

    FLUSH_BYTES = 256 << 20

    def __init__(self, device: str, warmup_ms: float, rep_ms: float, method: str = "events"):
        self.device, self.warmup_ms, self.rep_ms = device, warmup_ms, rep_ms
        self._do_bench = None
        self._flush = None
        if device == "cuda" and method == "do_bench":
            from triton.testing import do_bench
            self._do_bench = do_bench
        self.method = ("triton.testing.do_bench(return_mode='median'), L2 flushed" if self._do_bench
                       else "CUDA events, one persistent 256 MB buffer zeroed before each call, implementations "
                       "interleaved call by call, in a random order each iteration, behind a GPU spin "
                       "(Timer.interleaved), median"
                       if device == "cuda" else "time.perf_counter median, no cache flush")

    def __call__(self, fn: Callable) -> float:
        if self._do_bench is not None:
            return 1e3 * self._do_bench(fn, warmup=self.warmup_ms, rep=self.rep_ms, return_mode="median")
        if self.device == "cuda":
            return self._cuda_events(fn)
        return self._wall(fn)

    def warm_up(self, ms: float = 100.0) -> None:
        """Keeps the GPU busy for about `ms` before a case is timed: after the
        host-side work between cases (building, compiling peers) the first
        round of a case timed about 5% slower on the H100, every
        implementation alike."""
        if self.device != "cuda":
            return
        flush = self._flush_buffer()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        flush.zero_()
        end.record()
        torch.cuda.synchronize()
        for _ in range(int(ms / max(1e-3, start.elapsed_time(end)))):
            flush.zero_()
        torch.cuda.synchronize()

    def _flush_buffer(self) -> torch.Tensor:
        if self._flush is None:
            self._flush = torch.empty(self.FLUSH_BYTES, dtype=torch.int8, device="cuda")
        return self._flush

    def _wall(self, fn: Callable) -> float:
        sync(self.device)
        t0 = time.perf_counter()
        for _ in range(5):
            fn()
        times = []
        for _ in range(self._warm_up_calls(fn, (time.perf_counter() - t0) * 1e3 / 5)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1e6 * statistics.median(times)

    def _cuda_events(self, fn: Callable) -> float:
        flush = self._flush_buffer()

        def timed(n: int) -> list:
            start = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
            end = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
            for s, e in zip(start, end):
                flush.zero_()
                s.record()
                fn()
                e.record()
            torch.cuda.synchronize()
            return [s.elapsed_time(e) for s, e in zip(start, end)]

        fn()
        torch.cuda.synchronize()
        # Iterations from the time of one flush + call, as do_bench counts them.
        t0 = torch.cuda.Event(enable_timing=True)
        t1 = torch.cuda.Event(enable_timing=True)
        t0.record()
        for _ in range(5):
            flush.zero_()
            fn()
        t1.record()
        torch.cuda.synchronize()
        return 1e3 * statistics.median(timed(self._warm_up_calls(fn, t0.elapsed_time(t1) / 5)))

    def interleaved(self, fns: dict) -> Optional[dict]:
        """{name: median us} of callables timed in one loop, one call of each
        per iteration in the given order, each after the flush and between
        its own CUDA events: every implementation runs under the same GPU
        clock and power state. Timed one after another instead, a kernel
        timed right after Inductor's timing ran 5-20% faster than the same
        kernel timed after the copy (H100; equal CUPTI durations).

        Each iteration calls the implementations in a fresh (seeded) random
        order, so each follows every other about equally often. A fixed order,
        or one shifted cyclically, keeps every implementation behind the same
        predecessor, and at decode sizes that position alone moved a kernel's
        median by up to 0.5 us: in a C++ harness on the H100 (bf16 RMSNorm,
        hidden 2048 and 4096, T <= 128, 256 MB flush before each call) two
        slots running the same kernel on the same data differed by 0.2-0.6 us.

        Each iteration starts with a GPU spin (torch.cuda._sleep) longer than
        the host takes to issue the iteration, so every call is queued before
        the GPU reaches it and the events time the GPU's work, not the
        launch path: without it, peers with a slow Python launch (Liger,
        Inductor at small T) timed 2-20x their kernel. None where the timer
        is not CUDA events."""
        if self.device != "cuda" or self._do_bench is not None:
            return None
        flush = self._flush_buffer()
        names = list(fns)

        shuffler = random.Random(len(names))

        def iteration(events=None, spin_cycles=0):
            if spin_cycles:
                torch.cuda._sleep(spin_cycles)
            order = list(names)
            shuffler.shuffle(order)
            for name in order:
                flush.zero_()
                if events is None:
                    fns[name]()
                    continue
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fns[name]()
                end.record()
                events[name].append((start, end))

        iteration()
        torch.cuda.synchronize()
        t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        host0 = time.perf_counter()
        t0.record()
        for _ in range(3):
            iteration({name: [] for name in names})
        t1.record()
        host_us = (time.perf_counter() - host0) * 1e6 / 3
        torch.cuda.synchronize()
        # Twice the host time at 2 GHz (the H100's boost clock; a slower
        # clock only lengthens the spin).
        spin_cycles = int(2 * host_us * 2000)
        est_ms = max(1e-3, t0.elapsed_time(t1) / 3) + 2 * host_us * 1e-3  # one iteration, spin included
        for _ in range(int(self.warmup_ms * len(names) / est_ms)):
            iteration(spin_cycles=spin_cycles)
        events = {name: [] for name in names}
        for _ in range(max(5, min(10_000, int(self.rep_ms * len(names) / est_ms)))):
            iteration(events, spin_cycles)
        torch.cuda.synchronize()
        return {name: 1e3 * statistics.median(s.elapsed_time(e) for s, e in pairs) for name, pairs in events.items()}

    def _warm_up_calls(self, fn: Callable, est_ms: float) -> int:
        """Calls fn for warmup_ms (at est_ms a call); returns how many calls
        fill rep_ms."""
        est_ms = max(1e-3, est_ms)
        for _ in range(int(self.warmup_ms / est_ms)):
            fn()
        return max(5, min(10_000, int(self.rep_ms / est_ms)))


class CopyRoof:
    """dst.copy_(src) on uint8 buffers of nbytes/2 each (nbytes/2 read +
    nbytes/2 written): a callable to time beside the others (time_rounds), or
    its time alone, cached per byte count."""

    def __init__(self, timer: Timer, device: str):
        self.timer, self.device, self._times = timer, device, {}
        self._buffers = None

    def fn(self, nbytes: int) -> Callable:
        n = max(1, nbytes // 2)
        if self._buffers is None or self._buffers[0].numel() != n:
            self._buffers = None  # free the previous pair first
            src = torch.empty(n, dtype=torch.uint8, device=self.device).fill_(1)
            self._buffers = (src, torch.empty_like(src))
        src, dst = self._buffers
        return lambda: dst.copy_(src)

    def us(self, nbytes: int) -> float:
        if nbytes not in self._times:
            self._times[nbytes] = self.timer(self.fn(nbytes))
        return self._times[nbytes]


def time_rounds(timer: Timer, fns: dict, rounds: int) -> dict:
    """{name: (median us, spread)}: each callable timed once per round, the
    order rotated between rounds so no implementation always runs first (at
    T = 1024 one kernel timed twice in a row differed by 20%). With CUDA
    events a round times all callables in one interleaved loop
    (Timer.interleaved); otherwise one after another. The median is over the
    rounds' medians; spread is their (max - min) / median."""
    names = list(fns)
    samples = {name: [] for name in names}
    timer.warm_up()
    for r in range(max(1, rounds)):
        shift = r % len(names)
        order = names[shift:] + names[:shift]
        together = timer.interleaved({name: fns[name] for name in order})
        for name in order:
            samples[name].append(together[name] if together is not None else timer(fns[name]))
    out = {}
    for name, ts in samples.items():
        med = statistics.median(ts)
        out[name] = (med, (max(ts) - min(ts)) / med if med else 0.0)
    return out


def gbps(nbytes: int, us: Optional[float]) -> Optional[float]:
    return nbytes / (us * 1e3) if us else None


# ----------------------------------------------------------------------------
# Running one case
# ----------------------------------------------------------------------------


def _row(case, dtype_name, T, impl, us, nbytes, copy_gbps, ours_us=None, note="", err=None, spread=None):
    g = gbps(nbytes, us)
    return {
        "case": case.name, "dtype": dtype_name, "T": T, "impl": impl,
        "us": us, "gbps": g, "pct_copy": 100.0 * g / copy_gbps if g and copy_gbps else None,
        "ours_speedup": (us / ours_us) if us and ours_us and impl not in ("ours", COPY) else None,
        "bytes": nbytes, "max_abs_err": err, "note": note, "spread": spread,
    }


def _gather_count() -> Optional[int]:
    counter = getattr(aiter, "gather_fallback_count", None)
    return counter() if counter else None


def build_checked(impl: Impl, d: CaseData, want, tol: float):
    """(fn, max abs err, note); fn is None when skipped or wrong."""
    try:
        fn = impl.build(d)
        got = fn()
    except Skip as e:
        return None, None, f"skipped: {e}"
    except Exception as e:
        return None, None, f"failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
    max_abs, worst = compare(got, want, d.hidden, tol)
    if worst > 1.0:
        return None, max_abs, f"WRONG vs eager (max abs diff {max_abs:.3g}); not timed"
    return fn, max_abs, ""


def run_case(case: Case, dtype_name: str, T: int, args, timer: Timer, roof: CopyRoof, impls) -> list:
    dtype = DTYPES[dtype_name]
    d = make_data(case, T, dtype, args.device, args.eps)
    tol = TOLERANCE[dtype]
    want = build_eager(d)()
    nbytes = case.logical_bytes(T, d.x.element_size())

    # Ours first: a wrong or gathering kernel must not produce a number.
    gathers = _gather_count()
    ours_fn, ours_err, note = build_checked(OURS, d, want, tol)
    if ours_fn is None:
        raise SystemExit(f"ours is broken on {case.name} {dtype_name} T={T} "
                         f"x{tuple(d.x.shape)} stride {d.x.stride()}: {note}")
    if gathers is not None and _gather_count() != gathers:
        note = "gathered (not read in place)"
    checked = {"ours": (ours_fn, ours_err, note)}  # name: build_checked's (fn, max abs err, note)
    for impl in impls:
        checked[impl.name] = build_checked(impl, d, want, tol)
    checked[COPY] = (roof.fn(nbytes), None, f"dst.copy_(src), {nbytes // 2} B each way")
    times = time_rounds(timer, {name: fn for name, (fn, _, _) in checked.items() if fn is not None}, args.rounds)
    ours_us = times["ours"][0]
    copy_gbps = gbps(nbytes, times[COPY][0])
    rows = []
    for name, (fn, err, note) in checked.items():
        us, spread = times.get(name, (None, None))
        rows.append(_row(case, dtype_name, T, name, us, nbytes, copy_gbps, None if name == "ours" else ours_us,
                         note, err, spread))
    return rows


# ----------------------------------------------------------------------------
# Host overhead
# ----------------------------------------------------------------------------


def host_overhead(device: str, iters: int, eps: float) -> list:
    """us/call (wall and process CPU time) of small calls, synchronising only
    before and after the loop."""
    x = torch.randn(1, HEAD_DIM, dtype=torch.bfloat16, device=device)
    w = torch.ones(HEAD_DIM, dtype=torch.bfloat16, device=device)
    out = torch.empty_like(x)
    q8, ys = torch.empty(1, HEAD_DIM, dtype=torch.int8, device=device), torch.empty(1, 1, device=device)
    q, k = (torch.randn(1, h, HEAD_DIM, dtype=torch.bfloat16, device=device) for h in (32, 8))
    calls = [
        ("aiter.rms_norm", functools.partial(aiter.rms_norm, x, w, eps)),
        ("aiter.rms_norm_cu (into out)", functools.partial(aiter.rms_norm_cu, out, x, w, eps)),
        ("torch.ops.aiter.rmsnorm.default", functools.partial(torch.ops.aiter.rmsnorm.default,
                                                             out, x, w, eps, False, 0)),
        ("aiter.rmsnorm2d_fwd_with_dynamicquant",
         functools.partial(aiter.rmsnorm2d_fwd_with_dynamicquant, q8, x, ys, w, eps)),
        ("torch.ops.aiter.rmsnorm_quant.default",
         functools.partial(torch.ops.aiter.rmsnorm_quant.default, q8, x, ys, w, eps, None, None, 0, False, False, 0)),
        ("aiter.qk_rmsnorm (in place)", functools.partial(aiter.qk_rmsnorm, q, k, w, w, eps)),
        ("torch.ops.aiter.qk_rmsnorm_.default", functools.partial(torch.ops.aiter.qk_rmsnorm_.default, q, k, w, w, eps)),
        # Zero rows: the argument checks and the dispatch run in full; the
        # launcher then returns before planning the layouts and launching
        # (a lower bound on our host work, not all of it).
        ("aiter.rms_norm_cu, 0 rows (validation + dispatch, no launch)",
         functools.partial(aiter.rms_norm_cu, out[:0], x[:0], w, eps)),
        ("aiter.rms_norm, 0 rows (validation + dispatch, no launch)", functools.partial(aiter.rms_norm, x[:0], w, eps)),
        ("torch.empty", functools.partial(torch.empty, (1, HEAD_DIM), dtype=torch.bfloat16, device=device)),
        # One torch kernel launch through the dispatcher: the floor for any op.
        ("out.zero_() (reference launch)", out.zero_),
    ]
    results = []
    for name, fn in calls:
        for _ in range(min(iters, 200)):
            fn()
        sync(device)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(iters):
            fn()
        wall1, cpu1 = time.perf_counter(), time.process_time()
        sync(device)
        wall2 = time.perf_counter()
        results.append({
            "call": name, "iters": iters, "device": device,
            "wall_us_per_call": 1e6 * (wall1 - wall0) / iters,
            "cpu_us_per_call": 1e6 * (cpu1 - cpu0) / iters,
            "wall_us_per_call_incl_sync": 1e6 * (wall2 - wall0) / iters,
        })
    return results


def host_markdown(results: list) -> str:
    lines = ["| call | wall us/call | CPU us/call | wall incl. final sync |", "|---|---:|---:|---:|"]
    for r in results:
        lines.append(f"| `{r['call']}` | {r['wall_us_per_call']:.2f} | {r['cpu_us_per_call']:.2f} "
                     f"| {r['wall_us_per_call_incl_sync']:.2f} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------

TABLE_PEERS = ("eager", "compile", "guard", "liger", "flashinfer")


def _fmt(v, spec: str, missing: str = "—") -> str:
    return format(v, spec) if v is not None else missing


def _speedup(row: Optional[dict]) -> str:
    return f"{row['ours_speedup']:.2f}x" if row and row["ours_speedup"] else "—"


def case_markdown(case: Case, dtype_name: str, rows: list) -> str:
    by_t = {}
    for r in rows:
        by_t.setdefault(r["T"], {})[r["impl"]] = r
    head = (["T", "ours us", "ours spread", "ours GB/s", "% copy"] + [f"{p} us" for p in TABLE_PEERS]
            + ["copy us", "copy GB/s"] + [f"x {p}" for p in TABLE_PEERS])
    lines = [f"### {case.name} ({dtype_name})", "",
             "| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    notes = {}
    for T in sorted(by_t):
        imp = by_t[T]
        ours, copy = imp["ours"], imp[COPY]
        spread = ours.get("spread")
        cells = [str(T), _fmt(ours["us"], ".2f"), "—" if spread is None else f"{100 * spread:.0f}%",
                 _fmt(ours["gbps"], ".0f"), _fmt(ours["pct_copy"], ".0f")]
        for p in TABLE_PEERS:
            r = imp.get(p)
            cells.append(_fmt(r and r["us"], ".2f"))
            if r and r["note"]:
                notes.setdefault(f"{p}: {r['note']}", []).append(T)
        cells += [_fmt(copy["us"], ".2f"), _fmt(copy["gbps"], ".0f")]
        cells += [_speedup(imp.get(p)) for p in TABLE_PEERS]
        if ours["note"]:
            notes.setdefault(f"ours: {ours['note']}", []).append(T)
        lines.append("| " + " | ".join(cells) + " |")
    if notes:
        lines.append("")
        lines += [f"- {note} (T={','.join(map(str, ts))})" for note, ts in notes.items()]
    return "\n".join(lines)


def header_markdown(header: dict) -> str:
    lines = ["# aiter RMSNorm benchmark", ""]
    lines += [f"- **{k}**: {v}" for k, v in header.items() if k != "cases"]
    lines += ["", "Cases (shape and stride of the input at T tokens):", ""]
    lines += [f"- `{name}`: {desc}" for name, desc in header["cases"].items()]
    lines += ["", "us = median time in microseconds; GB/s = logical bytes (read input [+ residual] + weight, "
              "write output [+ residual_out]) / time; % copy = GB/s / GB/s of a device copy moving the same "
              "bytes; x peer = peer us / ours us (above 1: ours is faster); every implementation and the copy are timed "
              "`rounds` times, interleaved, and the median of those medians is shown; ours spread = (max - min) / "
              "median of ours' per-round medians."]
    return "\n".join(lines)


PLOT_STYLE = {  # fixed colours, so an absent peer does not recolour the others
    "ours": dict(color="tab:red", marker="o", ms=3, lw=2, label="ours"),
    "eager": dict(color="tab:blue", marker="o", ms=3, label="eager"),
    "compile": dict(color="tab:green", marker="o", ms=3, label="compile"),
    "guard": dict(color="tab:brown", marker="o", ms=3, label="guard (.contiguous + ours)"),
    "liger": dict(color="tab:purple", marker="o", ms=3, label="liger"),
    "flashinfer": dict(color="tab:orange", marker="o", ms=3, label="flashinfer"),
    COPY: dict(color="black", ls="--", label="copy roof"),
}


def write_plot(path: str, rows: list, cases: list, dtype_name: str) -> Optional[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not importable; no plot written"
    cases = [c for c in cases if any(r["case"] == c.name and r["dtype"] == dtype_name for r in rows)]
    if not cases:
        return f"no {dtype_name} rows; no plot written"
    ncols = min(4, len(cases))
    nrows = math.ceil(len(cases) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    legend = {}
    for ax, case in zip(axes.flat, cases):
        for impl, style in PLOT_STYLE.items():
            pts = sorted((r["T"], r["gbps"]) for r in rows
                         if r["case"] == case.name and r["dtype"] == dtype_name and r["impl"] == impl and r["gbps"])
            if pts:
                legend[impl] = ax.plot(*zip(*pts), **style)[0]
        ax.set_xscale("log", base=2)
        ax.set_title(case.name, fontsize=9)
        ax.set_xlabel("T (tokens)")
        ax.set_ylabel("GB/s")
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(cases):]:
        ax.axis("off")
    handles, labels = list(legend.values()), [PLOT_STYLE[i]["label"] for i in legend]
    fig.suptitle(f"RMSNorm {dtype_name}: GB/s (logical bytes) vs tokens")
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), fontsize=8)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return None


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------


def _version(module: str) -> Optional[str]:
    try:
        from importlib.metadata import version
        return version(module)
    except Exception:
        return None


def describe_case(case: Case, T: int = 4) -> str:
    x = case.make_x(T, torch.bfloat16, "meta")
    kind = "residual add + RMSNorm" if case.fused else "RMSNorm"
    return f"{kind}, x {tuple(x.shape)} stride {x.stride()}, hidden {case.hidden} (T={T})"


def make_header(args, timer: Timer, peak_copy_gbps: float) -> dict:
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or platform.machine()
    return {
        "device": gpu, "torch": torch.__version__, "cuda": torch.version.cuda,
        "triton": _version("triton"), "liger_kernel": _version("liger-kernel"),
        "flashinfer": "not run (--no-flashinfer)" if args.no_flashinfer else flashinfer_status(),
        "aiter": getattr(aiter, "__version__", None), "python": platform.python_version(),
        "launch_policy": launch_policy(args.device),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "timer": timer.method, "warmup_ms": args.warmup, "rep_ms": args.rep, "rounds": args.rounds,
        "eps": args.eps,
        "copy_gbps": round(peak_copy_gbps, 1),
        "copy_gbps_note": f"dst.copy_(src), {args.peak_copy_mb} MiB each way, (read+written)/time",
        "cases": {c.name: describe_case(c) for c in selected_cases(args)},
    }


def launch_policy(device: str) -> str:
    """Where ours' launch policy came from on this GPU (derived defaults, a
    per-GPU table, an override)."""
    if device != "cuda":
        return "CPU backend (no launch policy)"
    try:
        return aiter.tuning.describe()
    except Exception as e:  # an older build without the launch-policy bindings
        return f"unknown ({type(e).__name__}: {e})"


def selected_cases(args) -> list:
    names = args.cases or (QUICK_CASES if args.quick else [c.name for c in CASES])
    unknown = set(names) - {c.name for c in CASES}
    if unknown:
        raise SystemExit(f"unknown case(s) {sorted(unknown)}; known: {[c.name for c in CASES]}")
    return [c for c in CASES if c.name in names]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--dtype", nargs="+", default=["bf16", "fp16"], choices=list(DTYPES))
    p.add_argument("--tokens", nargs="+", type=int, help=f"token counts (default {ALL_TOKENS})")
    p.add_argument("--cases", nargs="+", help=f"case names (default all): {[c.name for c in CASES]}")
    p.add_argument("--quick", action="store_true", help=f"tokens {QUICK_TOKENS}, cases {QUICK_CASES}")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--no-liger", action="store_true", help="skip Liger-Kernel")
    p.add_argument("--no-flashinfer", action="store_true", help="skip FlashInfer")
    p.add_argument("--warmup", type=float, default=25, help="warm-up per measurement, ms")
    p.add_argument("--rep", type=float, default=100, help="timed repetitions per measurement, ms")
    p.add_argument("--timer", default="events", choices=["events", "do_bench"],
                   help="GPU timing: CUDA events with one persistent flush buffer, or triton's do_bench")
    p.add_argument("--rounds", type=int, default=3,
                   help="times each implementation is timed, interleaved with the others (median reported)")
    p.add_argument("--eps", type=float, default=1e-6)
    p.add_argument("--max-gb", type=float, default=8.0, help="skip a case whose estimated peak memory is above")
    p.add_argument("--peak-copy-mb", type=int, default=1024, help="size of the header's peak-copy measurement")
    p.add_argument("--host-iters", type=int, default=10_000, help="calls per host-overhead loop (0: skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write header + rows as JSON")
    p.add_argument("--md", help="write the markdown report")
    p.add_argument("--plot", help="write a PNG of GB/s vs T (bf16, else the first dtype)")
    p.add_argument("--merge", nargs="+", metavar="JSON", help="no timing: merge these runs' JSON into one report")
    p.add_argument("--prewarm-compile", action="store_true",
                   help="no timing: compile the Inductor (and Liger) peers of every selected cell, so a later run "
                        "finds them in Inductor's and Triton's on-disk caches; needs no aiter build")
    args = p.parse_args(argv)
    args.tokens = args.tokens or list(QUICK_TOKENS if args.quick else ALL_TOKENS)
    return args


def check_device(args) -> None:
    if args.device != "cuda":
        return
    if not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch has no CUDA device here (use --device cpu)")
    gpu_ok = getattr(aiter, "gpu_backend_available", lambda: True)()
    if not gpu_ok:
        raise SystemExit("--device cuda: this aiter build has no GPU kernels (rebuild with nvcc present)")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def prewarm_compile(args) -> None:
    """Compiles the peers the way run_case does (same data layout, one fresh
    compile per cell) without timing anything: a benchmark run afterwards
    (another process) then loads Inductor's FX graphs and Triton's kernels
    from their on-disk caches instead of compiling them again. Can run while
    aiter itself is still being built."""
    started = time.monotonic()
    for case in selected_cases(args):
        for dtype_name in args.dtype:
            elem = torch.empty((), dtype=DTYPES[dtype_name]).element_size()
            for T in args.tokens:
                if case.est_peak_bytes(T, elem) / 1e9 > args.max_gb:
                    continue
                d = make_data(case, T, DTYPES[dtype_name], args.device, args.eps)
                for impl in [i for i in PEERS if i.name in ("compile", "liger")]:
                    if (impl.name == "liger" and args.no_liger) or (impl.name == "compile" and args.no_compile):
                        continue
                    try:
                        impl.build(d)()
                    except Skip:
                        pass
                    except Exception as e:  # the benchmark reports it in its table (build_checked)
                        log(f"prewarm: {impl.name} on {case.name} T={T} failed: {type(e).__name__}: "
                            f"{str(e).splitlines()[0][:160] if str(e) else ''}")
                sync(args.device)
                del d
                if args.device == "cuda":
                    torch.cuda.empty_cache()
            log(f"prewarm: {case.name} {dtype_name} ({time.monotonic() - started:.0f} s)")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.merge:
        return merge(args)
    if args.prewarm_compile:
        with torch.no_grad():
            return prewarm_compile(args)
    if aiter is None:
        import aiter as _  # noqa: F401  (raise the import error here)
    check_device(args)
    torch.manual_seed(args.seed)
    for knob in ("cache_size_limit", "recompile_limit"):  # belt and braces with the per-case reset
        if hasattr(torch._dynamo.config, knob):
            setattr(torch._dynamo.config, knob, max(getattr(torch._dynamo.config, knob), 256))

    timer = Timer(args.device, args.warmup, args.rep, args.timer)
    roof = CopyRoof(timer, args.device)
    peak_mb = args.peak_copy_mb if args.device == "cuda" else min(args.peak_copy_mb, 256)
    args.peak_copy_mb = peak_mb
    peak_copy_gbps = gbps(2 * peak_mb << 20, roof.us(2 * peak_mb << 20))
    roof._times.clear()
    impls = [i for i in PEERS if not (args.no_compile and i.name == "compile")
             and not (args.no_liger and i.name == "liger") and not (args.no_flashinfer and i.name == "flashinfer")]
    cases = selected_cases(args)
    header = make_header(args, timer, peak_copy_gbps)
    log(f"{header['device']} | torch {header['torch']} | {timer.method} | peak copy {peak_copy_gbps:.0f} GB/s")

    rows, sections = [], []
    started = time.monotonic()
    with torch.no_grad():
        for case in cases:
            for dtype_name in args.dtype:
                case_rows = []
                elem = torch.empty((), dtype=DTYPES[dtype_name]).element_size()
                for T in args.tokens:
                    est_gb = case.est_peak_bytes(T, elem) / 1e9
                    if est_gb > args.max_gb:
                        log(f"skip {case.name} {dtype_name} T={T}: ~{est_gb:.1f} GB > --max-gb {args.max_gb}")
                        continue
                    log(f"{case.name} {dtype_name} T={T} ({time.monotonic() - started:.0f} s)")
                    case_rows += run_case(case, dtype_name, T, args, timer, roof, impls)
                    if args.device == "cuda":
                        torch.cuda.empty_cache()
                if case_rows:
                    sections.append(case_markdown(case, dtype_name, case_rows))
                    print(sections[-1] + "\n", flush=True)
                rows += case_rows
                if args.json:  # so far, in case the run is cut short; rewritten at the end
                    dump_json(args.json, dict(header, partial=True), rows, [])

    host = host_overhead(args.device, args.host_iters, args.eps) if args.host_iters > 0 else []
    write_reports(args, header, rows, host, cases)


def write_reports(args, header: dict, rows: list, host: list, cases: list) -> None:
    """Markdown (per case and dtype, then host overhead), JSON and the plot."""
    sections = []
    for case in cases:
        for dtype_name in args.dtype:
            case_rows = [r for r in rows if r["case"] == case.name and r["dtype"] == dtype_name]
            if case_rows:
                sections.append(case_markdown(case, dtype_name, case_rows))
    if host:
        h = host[0]
        sections.append(f"### Host overhead ({h['iters']} calls, (1, {HEAD_DIM}) bf16 on {h['device']})\n\n"
                        + host_markdown(host))
        print(sections[-1] + "\n", flush=True)
    if args.md:
        with open(args.md, "w") as f:
            f.write(header_markdown(header) + "\n\n" + "\n\n".join(sections) + "\n")
    if args.json:
        dump_json(args.json, header, rows, host)
    if args.plot:
        plot_dtype = "bf16" if "bf16" in args.dtype else args.dtype[0]
        problem = write_plot(args.plot, rows, cases, plot_dtype)
        if problem:
            log(problem)


def dump_json(path: str, header: dict, rows: list, host: list) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump({"header": header, "rows": rows, "host_overhead": host}, f, indent=1)
    os.replace(path + ".tmp", path)


def merge(args) -> None:
    """One report from the JSON of several runs (e.g. one per dtype or case
    group, each within a time limit); the first run's header is kept."""
    runs = [json.load(open(path)) for path in args.merge]
    rows = [r for run in runs for r in run["rows"]]
    host = [h for run in runs for h in run.get("host_overhead", [])]
    names = {r["case"] for r in rows}
    args.dtype = [d for d in DTYPES if any(r["dtype"] == d for r in rows)]
    write_reports(args, runs[0]["header"], rows, host, [c for c in CASES if c.name in names])

if __name__ == "__main__":
    main()
