#!/usr/bin/env python3
"""Host time per call of the norm-family entry points at decode size, each
next to its registered torch.ops op (the dispatcher route the public function
falls back to), so the eager path's saving shows directly.

  PYTHONPATH=. python3 tools/host_overhead.py [--device cuda] [--iters 20000]

On a GPU the loop only launches (one synchronize before and after), so
us/call is host time; on CPU it includes the (tiny) row computation.
"""
import argparse
import time

import torch

import aiter

ops = torch.ops.aiter


def calls(device: str, eps: float = 1e-6) -> list:
    bf16 = dict(dtype=torch.bfloat16, device=device)
    x, w = torch.randn(1, 128, **bf16), torch.ones(128, **bf16)
    out = torch.empty_like(x)
    q8 = torch.empty(1, 128, dtype=torch.int8, device=device)
    ys = torch.empty(1, 1, dtype=torch.float32, device=device)
    q, k = torch.randn(1, 32, 128, **bf16), torch.randn(1, 8, 128, **bf16)
    return [
        ("aiter.rms_norm_cu", lambda: aiter.rms_norm_cu(out, x, w, eps)),
        ("torch.ops.aiter.rmsnorm", lambda: ops.rmsnorm.default(out, x, w, eps, False, 0)),
        ("aiter.rmsnorm2d_fwd_with_dynamicquant", lambda: aiter.rmsnorm2d_fwd_with_dynamicquant(q8, x, ys, w, eps)),
        ("torch.ops.aiter.rmsnorm_quant",
         lambda: ops.rmsnorm_quant.default(q8, x, ys, w, eps, None, None, 0, False, False, 0)),
        ("aiter.qk_rmsnorm (in place)", lambda: aiter.qk_rmsnorm(q, k, w, w, eps)),
        ("torch.ops.aiter.qk_rmsnorm_", lambda: ops.qk_rmsnorm_.default(q, k, w, w, eps)),
        ("out.zero_() (one torch launch)", out.zero_),
    ]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--iters", type=int, default=20_000)
    args = p.parse_args()
    print(f"| call ({args.device}, {args.iters} calls) | wall us/call |\n|---|---:|")
    for name, fn in calls(args.device):
        for _ in range(min(args.iters, 500)):
            fn()
        sync(args.device)
        t0 = time.perf_counter()
        for _ in range(args.iters):
            fn()
        sync(args.device)
        print(f"| `{name}` | {1e6 * (time.perf_counter() - t0) / args.iters:.2f} |")


if __name__ == "__main__":
    main()
