"""Upstream-aiter-style runner for the RMSNorm ops (a script, not a pytest module).

For each (op, layout, dtype, m, n) it runs the op on a view in that layout,
compares the result with a float64 reference computed from the view's logical
values, and checks that no call had to copy the view (the gather-fallback
counter stays 0). Then, unless --no-timing, it times each case. Runs on the
GPU when there is one (and a GPU build), else on the CPU. Exits non-zero on
any mismatch, error or fallback.

ops:      rms_norm                  out = rmsnorm(x) * w          (new contiguous out)
          rmsnorm2d_fwd_with_add    residual_out = dtype(x + r); out = rmsnorm(residual_out) * w
                                    (x and r in the layout; out, residual_out fresh contiguous)
layouts:  contiguous   (m, n)
          row-strided  buf[:, :n] of a (m, n + 65) buffer (odd pitch)
          qk3d         Q slice of a packed QKV: qkv[:, :hq*n].view(m, hq, n) of a
                       (m, (hq + 2*hkv)*n) buffer; hq, hkv = 32, 8 (Qwen3) when n == 128, else 4, 1
          permuted     (B, T, H, D) = empty(B, H, T, D).permute(0, 2, 1, 3), D = n, H = 2,
                       B*T = m (B = 2 when m is even): leading dims that don't collapse
tolerance |got - ref| <= atol + rtol*|ref| on out (atol, rtol: fp32 1e-5, 1e-4;
          fp16 1e-5, 2^-10; bf16 1e-5, 2^-7: one ulp, twice the output rounding);
          residual_out must equal dtype(x + r) exactly
timing:   median us of ours (triton.testing.do_bench, else CUDA events, on the GPU;
          time.perf_counter over 20 calls on the CPU); GB/s = logical bytes (read x
          [+ r] + w, write out [+ residual_out]) / time

examples:
  python3 op_tests/test_rmsnorm2d.py                          # everything (defaults below)
  python3 op_tests/test_rmsnorm2d.py -d bf16 -m 1,2048 -n 128 --layout qk3d
  python3 op_tests/test_rmsnorm2d.py -d fp16 -d bf16 --layout row-strided,permuted --no-timing
"""
import argparse
import statistics
import sys
import time

import torch

try:
    import aiter
except ImportError:  # built in place (no install): the package is at the repo root
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    import aiter

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
TOLERANCE = {  # (atol, rtol) on `out`
    torch.float32: (1e-5, 1e-4),
    torch.float16: (1e-5, 2.0**-10),
    torch.bfloat16: (1e-5, 2.0**-7),
}
EPS = 1e-6
GPU_M, CPU_M = [1, 3, 257, 2048], [1, 3, 257]
DEFAULT_N = [128, 769, 4096, 8192]
CPU_TIMING_RUNS = 20


# --- layouts: build(m, n, dtype, device, gen) -> a view of logical shape (..., n)
def _randn(shape, dtype, device, gen):
    return torch.randn(shape, dtype=dtype, device=device, generator=gen)


def contiguous(m, n, dtype, device, gen):
    return _randn((m, n), dtype, device, gen)


def row_strided(m, n, dtype, device, gen):
    return _randn((m, n + 64 + 1), dtype, device, gen)[:, :n]


def qk3d(m, n, dtype, device, gen):
    heads_q, heads_kv = (32, 8) if n == 128 else (4, 1)
    qkv = _randn((m, (heads_q + 2 * heads_kv) * n), dtype, device, gen)
    return qkv[:, : heads_q * n].view(m, heads_q, n)


def permuted(m, n, dtype, device, gen):
    b = 2 if m % 2 == 0 and m > 0 else 1
    return _randn((b, 2, m // b, n), dtype, device, gen).permute(0, 2, 1, 3)


LAYOUTS = {"contiguous": contiguous, "row-strided": row_strided, "qk3d": qk3d, "permuted": permuted}


# --- ops: prepare(x, w, make_like) -> (call, expected, tensors moved)
# call() runs the op once and returns {name: result}; expected maps the same
# names to (float64 reference or exact tensor, exact?).
def reference(x64, w64):
    inv_rms = torch.rsqrt(x64.square().mean(-1, keepdim=True).add_(EPS))
    return (x64 * inv_rms).mul_(w64)


def _fresh_out(x):
    return torch.empty(x.shape, dtype=x.dtype, device=x.device)


def prepare_rms_norm(x, w, make_like):
    expected = {"out": (reference(x.double(), w.double()), False)}
    return (lambda: {"out": aiter.rms_norm(x, w, EPS)}), expected, 2


def prepare_add(x, w, make_like):
    r = make_like()
    out, r_out = _fresh_out(x), _fresh_out(x)
    s = (x.double() + r.double()).to(x.dtype)

    def call():
        aiter.rmsnorm2d_fwd_with_add(out, x, r, r_out, w, EPS)
        return {"out": out, "residual_out": r_out}

    expected = {"out": (reference(s.double(), w.double()), False), "residual_out": (s, True)}
    return call, expected, 4


OPS = {"rms_norm": prepare_rms_norm, "rmsnorm2d_fwd_with_add": prepare_add}


# --- one case
def time_us(fn, device):
    """Median time of one call, in microseconds."""
    if device == "cuda":
        try:
            from triton.testing import do_bench

            return do_bench(fn, warmup=25, rep=100, return_mode="median") * 1e3
        except (ImportError, TypeError):
            pass
        fn()
        torch.cuda.synchronize()
        samples = []
        for _ in range(50):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end) * 1e3)
        return statistics.median(samples)
    fn()  # warm-up
    samples = []
    for _ in range(CPU_TIMING_RUNS):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(samples)


def check_case(op, layout, dtype, m, n, device, timing):
    """Run one case; returns a table row (a dict)."""
    gen = torch.Generator(device=device).manual_seed(1000003 * m + n)
    build = LAYOUTS[layout]
    x = build(m, n, dtype, device, gen)
    w = _randn((n,), dtype, device, gen)
    row = {"op": op, "layout": layout, "shape": tuple(x.shape), "stride": x.stride(),
           "dtype": DTYPE_NAMES[dtype], "max_err": float("nan"), "error": None}
    before = aiter.gather_fallback_count()
    try:
        call, expected, tensors = OPS[op](x, w, lambda: build(m, n, dtype, device, gen))
        got = call()
        if device == "cuda":
            torch.cuda.synchronize()
        atol, rtol = TOLERANCE[dtype]
        ok, max_err = True, 0.0
        for name, (want, exact) in expected.items():
            err = got[name].double().sub_(want).abs_()
            bound = 0.0 if exact else want.abs().mul_(rtol).add_(atol)
            ok &= bool((err <= bound).all())  # NaN fails too
            if err.numel():
                max_err = max(max_err, err.max().item())
        row.update(ok=ok, max_err=max_err)
        if timing and x.numel():
            us = time_us(call, device)
            nbytes = tensors * x.numel() * x.element_size() + w.numel() * w.element_size()
            row.update(us=us, gbps=nbytes / us / 1e3)
    except Exception as e:  # a raising op is a failed row, not a crashed run
        row.update(ok=False, error=f"{type(e).__name__}: {e}")
    row["fallbacks"] = aiter.gather_fallback_count() - before
    row["ok"] = row["ok"] and row["fallbacks"] == 0
    return row


# --- report
def print_table(rows, timing):
    cols = [("op", "op", "{}"), ("layout", "layout", "{}"), ("shape", "shape", "{}"), ("stride", "stride", "{}"),
            ("dtype", "dtype", "{}"), ("max err", "max_err", "{:.2e}"), ("result", "result", "{}"),
            ("fallbacks", "fallbacks", "{}")]
    if timing:
        cols += [("time us", "us", "{:.1f}"), ("GB/s", "gbps", "{:.1f}")]
    cells = []
    for r in rows:
        r = dict(r, result="pass" if r["ok"] else ("ERROR" if r["error"] else "FAIL"))
        cells.append([fmt.format(r[key]) if key in r else "-" for _, key, fmt in cols])
    widths = [max(len(head), *(len(c[i]) for c in cells)) for i, (head, _, _) in enumerate(cols)]
    numeric = {"max err", "fallbacks", "time us", "GB/s"}

    def line(values):
        return "  ".join(v.rjust(wd) if head in numeric else v.ljust(wd)
                         for v, wd, (head, _, _) in zip(values, widths, cols)).rstrip()

    print(line([head for head, _, _ in cols]))
    print("  ".join("-" * wd for wd in widths))
    for c in cells:
        print(line(c))


# --- command line
def _list_arg(convert, choices=None):
    """Parse 'a,b' into [a, b] (used with action='extend', so flags repeat too)."""
    def parse(text):
        values = [convert(v) for v in text.split(",") if v]
        bad = [v for v in values if choices is not None and v not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"invalid choice {bad[0]!r} (choose from {', '.join(choices)})")
        return values
    return parse


def parse_args(argv=None):
    gpu = torch.cuda.is_available() and aiter.gpu_backend_available()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-d", "--dtype", action="extend", nargs="+", type=_list_arg(str, list(DTYPES)),
                   help=f"dtypes ({', '.join(DTYPES)}); repeatable or a comma list (default: all)")
    p.add_argument("-m", action="extend", nargs="+", type=_list_arg(int),
                   help=f"row counts / tokens (default: {' '.join(map(str, GPU_M))} on the GPU; "
                        f"{' '.join(map(str, CPU_M))} on the CPU, where 2048 rows take too long)")
    p.add_argument("-n", action="extend", nargs="+", type=_list_arg(int),
                   help=f"hidden sizes, the normalised dim (default: {' '.join(map(str, DEFAULT_N))})")
    p.add_argument("--layout", action="extend", nargs="+", type=_list_arg(str, list(LAYOUTS) + ["all"]),
                   help=f"{', '.join(LAYOUTS)} or all (default: all)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="auto: cuda when there is a GPU and a GPU build, else cpu")
    p.add_argument("--no-timing", action="store_true", help="correctness only")
    args = p.parse_args(argv)
    for key in ("dtype", "m", "n", "layout"):  # each flag value parsed to a list: flatten
        setattr(args, key, [v for values in getattr(args, key) or [] for v in values])
    if args.device == "auto":
        args.device = "cuda" if gpu else "cpu"
    elif args.device == "cuda" and not gpu:
        p.error("--device cuda: no CUDA device, or this aiter build has no GPU kernels")
    args.dtype = args.dtype or list(DTYPES)
    args.m = args.m or (GPU_M if args.device == "cuda" else CPU_M)
    args.n = args.n or DEFAULT_N
    args.layout = list(LAYOUTS) if not args.layout or "all" in args.layout else args.layout
    return args


def main(argv=None):
    args = parse_args(argv)
    timing = not args.no_timing
    where = f"cuda ({torch.cuda.get_device_name()})" if args.device == "cuda" else "cpu"
    print(f"aiter {aiter.__version__}, torch {torch.__version__}, on {where}; "
          f"-d {','.join(args.dtype)} -m {','.join(map(str, args.m))} -n {','.join(map(str, args.n))} "
          f"--layout {','.join(args.layout)}\n")
    aiter.reset_gather_fallback_count()
    start = time.perf_counter()
    rows = [check_case(op, layout, DTYPES[d], m, n, args.device, timing)
            for op in OPS for layout in args.layout for d in args.dtype for m in args.m for n in args.n]
    print_table(rows, timing)
    for r in rows:
        if r["error"]:
            print(f"\nERROR {r['op']} {r['layout']} {r['shape']} {r['dtype']}: {r['error']}")
    failed = [r for r in rows if not r["ok"]]
    fallbacks = sum(r["fallbacks"] for r in rows)
    print(f"\n{len(rows) - len(failed)} passed, {len(failed)} failed, {fallbacks} gather fallbacks "
          f"({time.perf_counter() - start:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
