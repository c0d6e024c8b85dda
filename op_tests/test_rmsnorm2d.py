"""Upstream-style runner for the RMSNorm ops: correctness over the layout
matrix against a float64 reference, then a timing table. Runs on the GPU when
there is one, else on the CPU. Exits non-zero on any mismatch or any call
that had to copy a view (gather fallback).

    python3 op_tests/test_rmsnorm2d.py                      # everything
    python3 op_tests/test_rmsnorm2d.py -d bf16 -m 1 2048 -n 128 4096 --layout qk3d
"""
import argparse
import statistics
import sys
import time

import torch

import aiter

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
TOLERANCE = {torch.float32: (2e-5, 2e-5), torch.float16: (2e-3, 4e-3), torch.bfloat16: (1.6e-2, 1.6e-2)}
EPS = 1e-6


# --- layouts: each returns a view of logical shape (..., n) over fresh storage
def contiguous(m, n, dtype, dev):
    return torch.randn(m, n, device=dev).to(dtype)


def row_strided(m, n, dtype, dev):  # a column slice; odd pitch
    return torch.randn(m, n + 65, device=dev).to(dtype)[:, :n]


def qk3d(m, n, dtype, dev):  # Q slice of a packed QKV projection
    q_heads, kv_heads = (32, 8) if n == 128 else (4, 1)
    qkv = torch.randn(m, (q_heads + 2 * kv_heads) * n, device=dev).to(dtype)
    return qkv[:, : q_heads * n].view(m, q_heads, n)


def permuted(m, n, dtype, dev):  # (B, T, H, D) from (B, H, T, D): leading dims don't collapse
    b, t = 2, max(1, m // 2)
    return torch.randn(b, 2, t, n, device=dev).to(dtype).permute(0, 2, 1, 3)


LAYOUTS = {"contiguous": contiguous, "row-strided": row_strided, "qk3d": qk3d, "permuted": permuted}


# --- ops under test: (call, logical bytes moved, reference)
def reference(x64, w64, eps):
    return x64 * torch.rsqrt(x64.pow(2).mean(-1, keepdim=True) + eps) * w64


def run_plain(x, w):
    out = aiter.rms_norm(x, w, EPS)
    return out, reference(x.double(), w.double(), EPS), lambda: aiter.rms_norm(x, w, EPS), 2


def run_add(x, w):
    r = torch.randn(x.shape, device=x.device).to(x.dtype)
    out, r_out = torch.empty(x.shape, dtype=x.dtype, device=x.device), torch.empty_like(r)
    aiter.rmsnorm2d_fwd_with_add(out, x, r, r_out, w, EPS)
    s = (x.double() + r.double()).to(x.dtype)
    if not torch.equal(r_out, s):
        out = torch.full_like(out, float("nan"))  # a wrong residual fails the row
    call = lambda: aiter.rmsnorm2d_fwd_with_add(out, x, r, r_out, w, EPS)  # noqa: E731
    return out, reference(s.double(), w.double(), EPS), call, 4


OPS = {"rms_norm": run_plain, "rmsnorm2d_fwd_with_add": run_add}


def time_us(fn, device):
    if device == "cuda":
        try:
            import triton.testing

            return triton.testing.do_bench(fn, warmup=10, rep=50, return_mode="median") * 1e3
        except ImportError:
            pass
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        samples = []
        for _ in range(30):
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            samples.append(start.elapsed_time(end) * 1e3)
        return statistics.median(samples)
    fn()
    samples = []
    for _ in range(15):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(samples)


def check_case(op, layout, dtype, m, n, device, timing):
    torch.manual_seed(m * 7919 + n)
    x = LAYOUTS[layout](m, n, dtype, device)
    w = torch.randn(n, device=device).to(dtype)
    before = aiter.gather_fallback_count()
    out, want, call, streams = OPS[op](x, w)
    fallbacks = aiter.gather_fallback_count() - before
    atol, rtol = TOLERANCE[dtype]
    err = (out.double() - want).abs()
    ok = bool((err <= atol + rtol * want.abs()).all()) and fallbacks == 0
    row = {
        "op": op, "layout": layout, "shape": tuple(x.shape), "stride": x.stride(), "dtype": str(dtype)[6:],
        "max_err": err.max().item() if err.numel() else 0.0, "ok": ok, "fallbacks": fallbacks,
    }
    if timing and x.numel():
        us = time_us(call, device)
        nbytes = streams * x.numel() * x.element_size() + w.numel() * w.element_size()
        row.update(us=us, gbps=nbytes / us / 1e3)
    return row


def print_table(rows, timing):
    head = f"{'op':24} {'layout':12} {'shape':18} {'stride':22} {'dtype':9} {'max err':>9} {'result':6} {'fb':>2}"
    if timing:
        head += f" {'us':>9} {'GB/s':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        line = (f"{r['op']:24} {r['layout']:12} {str(r['shape']):18} {str(r['stride']):22} {r['dtype']:9} "
                f"{r['max_err']:9.2e} {'pass' if r['ok'] else 'FAIL':6} {r['fallbacks']:>2}")
        if timing and "us" in r:
            line += f" {r['us']:9.1f} {r['gbps']:8.1f}"
        print(line)


def parse_args(argv=None):
    gpu = torch.cuda.is_available() and aiter.gpu_backend_available()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-d", "--dtype", nargs="+", choices=list(DTYPES), default=list(DTYPES))
    p.add_argument("-m", nargs="+", type=int, default=[1, 3, 257, 2048] if gpu else [1, 3, 257],
                   help="rows / tokens (default 1 3 257 2048 on the GPU, 1 3 257 on the CPU)")
    p.add_argument("-n", nargs="+", type=int, default=[128, 769, 4096, 8192],
                   help="hidden sizes (the normalised dim)")
    p.add_argument("--layout", nargs="+", choices=list(LAYOUTS) + ["all"], default=["all"])
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--no-timing", action="store_true", help="correctness only")
    args = p.parse_args(argv)
    args.device = ("cuda" if gpu else "cpu") if args.device == "auto" else args.device
    args.layout = list(LAYOUTS) if "all" in args.layout else args.layout
    return args


def main(argv=None):
    args = parse_args(argv)
    timing = not args.no_timing
    print(f"aiter {aiter.__version__} on {args.device}"
          + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""))
    rows = [
        check_case(op, layout, DTYPES[d], m, n, args.device, timing)
        for op in OPS for layout in args.layout for d in args.dtype for m in args.m for n in args.n
    ]
    print_table(rows, timing)
    failed = [r for r in rows if not r["ok"]]
    print(f"\n{len(rows) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
