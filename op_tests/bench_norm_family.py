#!/usr/bin/env python3
"""Benchmark the rest of the norm family: dynamic-quant RMSNorm (int8, fp8),
smooth quant (fused add), per-group fp8 quant, LayerNorm (plain and fused add)
and the fused Q/K RMSNorm against two separate rms_norm launches.

Shares the timer, the copy roof and the GB/s helper with bench_rmsnorm.py.
For every case, dtype and token count T it reports:
  ours    the aiter op on the case's views (zero-copy)
  eager   the same computation in eager PyTorch (quant: F.rms_norm, amax,
          divide, cast; LayerNorm: F.layer_norm); for the Q/K case instead
          "two"  two aiter.rms_norm_cu launches (Q, then K) in place
  copy    a device-to-device copy moving the same number of bytes
with us, GB/s of the bytes an ideal kernel moves (logical elements read and
written, scales and weights included) and % of the copy's GB/s. Before timing,
ours is checked against eager (quantised codes dequantised, to one step).

GPU:        python3 op_tests/bench_norm_family.py --json family.json --md family.md
CPU smoke:  python3 op_tests/bench_norm_family.py --device cpu --quick
"""
import argparse
import json
import os
import sys
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aiter  # noqa: E402
from bench_rmsnorm import CopyRoof, Timer, gbps, log, time_rounds  # noqa: E402

QKV_WIDTH, HEAD_DIM, HQ, HK = 6144, 128, 32, 8
TOKENS = (1, 2, 4, 8, 16, 32, 8192)
QUICK_TOKENS = (1, 32)
QMAX = {torch.int8: 127.0, torch.float8_e4m3fn: 448.0, torch.float8_e4m3fnuz: 240.0}


def fp8():
    return torch.float8_e4m3fnuz if getattr(torch.version, "hip", None) else torch.float8_e4m3fn


@dataclass
class Setup:
    ours: Callable     # runs our op, returns the outputs to check
    peer: Callable     # the baseline (eager, or two launches), same outputs
    nbytes: int        # bytes an ideal kernel moves
    check: Callable    # (ours_outputs, peer_outputs) -> None, raises on mismatch


def _quant_ref(y, qdtype, group=0):
    h = y.shape[-1]
    g = group or h
    yg = y.float().reshape(*y.shape[:-1], h // g, g)
    scale = yg.abs().amax(-1, keepdim=True) / QMAX[qdtype]
    q = (yg / scale.clamp_min(1e-30)).clamp(-QMAX[qdtype], QMAX[qdtype])
    q = (q.round() if qdtype == torch.int8 else q).to(qdtype).reshape(y.shape)
    return q, scale.reshape(*y.shape[:-1], h // g)


def _check_quant(group=0):
    def check(ours, peer):
        (q, s), (qr, sr) = ours, peer
        h = q.shape[-1]
        g = group or h
        deq = (q.float().reshape(*q.shape[:-1], h // g, g) * s.float().reshape(*q.shape[:-1], h // g, 1))
        ref = (qr.float().reshape(deq.shape) * sr.float().reshape(*qr.shape[:-1], h // g, 1))
        step = s.float().reshape(*q.shape[:-1], h // g, 1) * (1.0 if q.dtype == torch.int8 else 32.0)
        err = (deq - ref).abs() - (0.13 * ref.abs() if q.dtype != torch.int8 else 0) - step
        if err.max().item() > 1e-3 * ref.abs().max().item():
            raise SystemExit(f"ours disagrees with eager: max excess {err.max().item():.3g}")
    return check


def _check_close(tol):
    def check(ours, peer):
        for a, b in zip(ours, peer):
            d = (a.float() - b.float()).abs().max().item()
            if d > tol * max(1.0, b.float().abs().max().item()):
                raise SystemExit(f"ours disagrees with the baseline: max abs diff {d:.3g}")
    return check


def rms_quant_case(h, qdtype_fn, group=0, add_smooth=False, qk_slice=False):
    def setup(T, dtype, device, eps):
        qdtype = qdtype_fn()
        if qk_slice:
            x = torch.randn(T, QKV_WIDTH, dtype=dtype, device=device)[:, : HQ * HEAD_DIM].view(T, HQ, HEAD_DIM)
        else:
            x = torch.randn(T, h, dtype=dtype, device=device)
        hid = x.shape[-1]
        w = (1 + 0.1 * torch.randn(hid, device=device)).to(dtype)
        out = torch.empty(x.shape, dtype=qdtype, device=device)
        groups = hid // group if group else 1
        ys = torch.empty(*x.shape[:-1], groups, device=device)
        n = x.numel()
        esz = x.element_size()
        nbytes = n * esz + n + 4 * ys.numel() + hid * esz
        if add_smooth:
            r = torch.randn(x.shape, dtype=dtype, device=device)
            r_out = torch.empty_like(r)
            xs = torch.rand(hid, device=device) + 0.5
            nbytes += 2 * n * esz + 4 * hid

            def ours():
                aiter.rmsnorm2d_fwd_with_add_smoothquant(out, x, r, r_out, xs, ys, w, eps)
                return out, ys

            def peer():
                s = (x + r).float()
                return _quant_ref(F.rms_norm(s, (hid,), w.float(), eps) * xs, qdtype)
        else:
            def ours():
                aiter.rmsnorm2d_fwd_with_dynamicquant(out, x, ys, w, eps, 0, group)
                return out, ys

            def peer():
                return _quant_ref(F.rms_norm(x.float(), (hid,), w.float(), eps), qdtype, group)
        return Setup(ours, peer, nbytes, _check_quant(group))
    return setup


def layernorm_case(h, add=False):
    def setup(T, dtype, device, eps):
        x = torch.randn(T, h, dtype=dtype, device=device)
        w = (1 + 0.1 * torch.randn(h, device=device)).to(dtype)
        b = (0.1 * torch.randn(h, device=device)).to(dtype)
        n, esz = x.numel(), x.element_size()
        if add:
            r = torch.randn_like(x)
            out, r_out = torch.empty_like(x), torch.empty_like(x)

            def ours():
                aiter.layernorm2d_fwd_with_add(out, x, r, r_out, w, b, 1e-5)
                return out, r_out

            def peer():
                s = x + r
                return F.layer_norm(s, (h,), w, b, 1e-5), s
            return Setup(ours, peer, 4 * n * esz + 2 * h * esz, _check_close(0.05))
        return Setup(lambda: (aiter.layernorm2d_fwd(x, w, b, 1e-5),), lambda: (F.layer_norm(x, (h,), w, b, 1e-5),),
                     2 * n * esz + 2 * h * esz, _check_close(0.05))
    return setup


def qk_case():
    """In place on the Q and K slices of a packed QKV buffer: one fused launch
    (ours) vs two rms_norm_cu launches (peer)."""
    def setup(T, dtype, device, eps):
        qkv = torch.randn(T, QKV_WIDTH, dtype=dtype, device=device)
        q = qkv[:, : HQ * HEAD_DIM].view(T, HQ, HEAD_DIM)
        k = qkv[:, HQ * HEAD_DIM : (HQ + HK) * HEAD_DIM].view(T, HK, HEAD_DIM)
        wq = (1 + 0.1 * torch.randn(HEAD_DIM, device=device)).to(dtype)
        wk = (1 + 0.1 * torch.randn(HEAD_DIM, device=device)).to(dtype)
        # Fresh copies each call would add traffic; in place repeatedly keeps
        # the values normalised (RMSNorm is idempotent up to the weight).
        nbytes = 2 * (q.numel() + k.numel()) * q.element_size() + 2 * HEAD_DIM * q.element_size()

        def ours():
            aiter.qk_rmsnorm(q, k, wq, wk, eps)
            return q, k

        def peer():
            aiter.rms_norm_cu(q, q, wq, eps)
            aiter.rms_norm_cu(k, k, wk, eps)
            return q, k

        def check(_a, _b):
            q0, k0 = torch.randn_like(q), torch.randn_like(k)
            q.copy_(q0)
            k.copy_(k0)
            aiter.qk_rmsnorm(q, k, wq, wk, eps)
            if not (torch.equal(q, aiter.rms_norm(q0, wq, eps)) and torch.equal(k, aiter.rms_norm(k0, wk, eps))):
                raise SystemExit("qk_rmsnorm differs from two rms_norm calls")
        return Setup(ours, peer, nbytes, check)
    return setup


CASES = {
    "dynq_int8_h4096": rms_quant_case(4096, lambda: torch.int8),
    "dynq_fp8_h4096": rms_quant_case(4096, fp8),
    "dynq_fp8_qk_strided": rms_quant_case(0, fp8, qk_slice=True),
    "groupq_fp8_h4096_g128": rms_quant_case(4096, fp8, group=128),
    "add_smoothq_int8_h4096": rms_quant_case(4096, lambda: torch.int8, add_smooth=True),
    "layernorm_h4096": layernorm_case(4096),
    "add_layernorm_h4096": layernorm_case(4096, add=True),
    "qk_fused_vs_two": qk_case(),
}
QUICK_CASES = list(CASES)
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--dtype", nargs="+", default=["bf16"], choices=list(DTYPES))
    p.add_argument("--tokens", nargs="+", type=int)
    p.add_argument("--cases", nargs="+", choices=list(CASES))
    p.add_argument("--quick", action="store_true", help=f"tokens {QUICK_TOKENS}")
    p.add_argument("--warmup", type=float, default=25)
    p.add_argument("--rep", type=float, default=100)
    p.add_argument("--timer", default="events", choices=["events", "do_bench"],
                   help="GPU timing: CUDA events with one persistent flush buffer, or triton's do_bench")
    p.add_argument("--rounds", type=int, default=3, help="interleaved timings per implementation (median)")
    p.add_argument("--eps", type=float, default=1e-6)
    p.add_argument("--json")
    p.add_argument("--md")
    p.add_argument("--render", metavar="JSON", help="no timing: write --md (and --json) from this run's JSON")
    args = p.parse_args(argv)
    if args.render:
        with open(args.render) as f:
            write_reports(json.load(f), args.md, args.json)
        return
    if args.device == "cuda" and not (torch.cuda.is_available() and aiter.gpu_backend_available()):
        raise SystemExit("--device cuda: no CUDA device or no GPU build here (use --device cpu)")
    tokens = args.tokens or (QUICK_TOKENS if args.quick else TOKENS)
    if args.device == "cpu" and args.quick:
        args.warmup, args.rep = min(args.warmup, 2), min(args.rep, 10)
    timer = Timer(args.device, args.warmup, args.rep, args.timer)
    roof = CopyRoof(timer, args.device)
    torch.manual_seed(0)
    rows = []
    with torch.no_grad():
        for name in args.cases or list(CASES):
            peer_name = "two" if name.startswith("qk_") else "eager"
            for dname in args.dtype:
                for T in tokens:
                    s = CASES[name](T, DTYPES[dname], args.device, args.eps)
                    s.check(s.ours(), s.peer())
                    timed = time_rounds(timer, {"ours": s.ours, peer_name: s.peer, "copy": roof.fn(s.nbytes)},
                                        args.rounds)
                    us = {impl: t for impl, (t, _) in timed.items()}
                    copy_g = gbps(s.nbytes, us["copy"])
                    for impl, t in us.items():
                        g = gbps(s.nbytes, t)
                        rows.append({"case": name, "dtype": dname, "T": T, "impl": impl, "us": round(t, 2),
                                     "GBps": round(g, 1), "pct_copy": round(100 * g / copy_g, 1),
                                     "speedup_vs_ours": round(t / us["ours"], 2), "bytes": s.nbytes,
                                     "spread": round(timed[impl][1], 3)})
                    log(f"{name} {dname} T={T}: ours {us['ours']:.1f} us, {peer_name} {us[peer_name]:.1f} us, "
                        f"copy {us['copy']:.1f} us")
    report = {"device": args.device, "timer": timer.method, "rounds": args.rounds, "rows": rows}
    write_reports(report, args.md, args.json)


def markdown(report: dict) -> str:
    lines = [f"# Norm family ({report['device']}, {report['timer']}, median of {report.get('rounds', 1)} "
             "interleaved rounds)", ""]
    # Keys added to a run's JSON before --render (GPU, date, kernels, notes).
    extra = [f"- **{k}**: {v}" for k, v in report.items() if k not in ("device", "timer", "rounds", "rows")]
    lines += extra + ([""] if extra else [])
    lines += ["| case | dtype | T | impl | us | spread | GB/s | % copy | time / ours |",
              "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['dtype']} | {r['T']} | {r['impl']} | {r['us']} | "
              f"{'—' if r.get('spread') is None else format(100 * r['spread'], '.0f') + '%'} | {r['GBps']} | "
              f"{r['pct_copy']} | {r['speedup_vs_ours']} |" for r in report["rows"]]
    return "\n".join(lines)


def write_reports(report: dict, md_path, json_path) -> None:
    text = markdown(report)
    print(text)
    if md_path:
        with open(md_path, "w") as f:
            f.write(text + "\n")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
