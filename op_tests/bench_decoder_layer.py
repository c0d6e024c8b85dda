#!/usr/bin/env python3
"""The gain a user sees: one decoder layer with Qwen3-8B shapes, with the
Q/K norm as a caller that distrusts strides writes it (the guard) and as the
fork lets it be written (in place on the packed QKV slices).

Shapes: hidden 4096, 32 query heads and 8 KV heads of head_dim 128 (QKV
width 6144), MLP intermediate 12288, bf16, RMSNorm eps 1e-6, no biases.
Per layer, in order:

  input fused add + RMSNorm   aiter.rmsnorm2d_fwd_with_add (both variants)
  QKV projection              x @ W_qkv^T -> (T, 6144)
  Q/K norm                    on q = qkv[:, :4096].view(T, 32, 128) and
                              k = qkv[:, 4096:5120].view(T, 8, 128):
      guard  q.contiguous(), k.contiguous(), then aiter.rms_norm on each
      fork   aiter.qk_rmsnorm(q, k, ...) in place: one launch, no copies
      fork2  (also timed) aiter.rms_norm_cu in place on q, then on k
  [RoPE and attention are left out: the normalised q, (T, 4096), stands in
   for the attention output]
  output projection           (T, 4096) @ W_o^T
  post-attention fused add + RMSNorm   aiter.rmsnorm2d_fwd_with_add
  gated MLP                   gate_up = h @ W_gu^T; silu(gate) * up; @ W_down^T

Each variant is captured in a CUDA graph and the graphs are replayed
interleaved call by call (op_tests/bench_rmsnorm.py's Timer: CUDA events,
L2 flushed before each call, random order, medians of --rounds rounds), at
prefill T = 8192 and decode batch 64. Before timing, the variants' Q/K norm
outputs must be equal bit for bit and their layer outputs equal within bf16
rounding of the output projection (its input is a strided view in one variant
and a dense copy in the other; GEMM kernels may round differently).

GPU:        python3 op_tests/bench_decoder_layer.py --json layer.json --md layer.md
CPU smoke:  python3 op_tests/bench_decoder_layer.py --device cpu --quick   (small shapes, no graphs, no timing)
"""
import argparse
import datetime
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aiter  # noqa: E402
from bench_rmsnorm import Timer, log, time_rounds  # noqa: E402


@dataclass(frozen=True)
class Shapes:
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    eps: float = 1e-6

    @property
    def q_width(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def qkv_width(self) -> int:
        return self.q_width + 2 * self.kv_width


QWEN3_8B = Shapes(hidden=4096, heads=32, kv_heads=8, head_dim=128, intermediate=12288)
SMOKE = Shapes(hidden=1024, heads=8, kv_heads=2, head_dim=128, intermediate=2048)
TOKENS = {"prefill": 8192, "decode": 64}
SMOKE_TOKENS = {"prefill": 48, "decode": 4}


class Layer:
    """Weights of one layer and the static buffers a CUDA graph replays on."""

    def __init__(self, s: Shapes, T: int, dtype, device, seed: int = 0):
        gen = torch.Generator(device=device).manual_seed(seed)

        def randn(*shape):
            return torch.randn(*shape, generator=gen, device=device)

        def weight(n_out, n_in):
            return (randn(n_out, n_in) / n_in ** 0.5).to(dtype)

        def norm_weight(n):
            return (1 + 0.1 * randn(n)).to(dtype)

        self.s, self.T = s, T
        self.w_qkv = weight(s.qkv_width, s.hidden)
        self.w_o = weight(s.hidden, s.q_width)
        self.w_gate_up = weight(2 * s.intermediate, s.hidden)
        self.w_down = weight(s.hidden, s.intermediate)
        self.w_in, self.w_post = norm_weight(s.hidden), norm_weight(s.hidden)
        self.w_q, self.w_k = norm_weight(s.head_dim), norm_weight(s.head_dim)
        self.x = randn(T, s.hidden).to(dtype)
        self.residual = randn(T, s.hidden).to(dtype)

    def run(self, qk_norm: str):
        """One layer; returns (layer output, residual out, q normed, k normed)."""
        s, T = self.s, self.T
        h, res = torch.empty_like(self.x), torch.empty_like(self.x)
        aiter.rmsnorm2d_fwd_with_add(h, self.x, self.residual, res, self.w_in, s.eps)
        qkv = h @ self.w_qkv.t()
        q = qkv[:, :s.q_width].view(T, s.heads, s.head_dim)
        k = qkv[:, s.q_width:s.q_width + s.kv_width].view(T, s.kv_heads, s.head_dim)
        if qk_norm == "guard":
            q = aiter.rms_norm(q.contiguous(), self.w_q, s.eps)
            k = aiter.rms_norm(k.contiguous(), self.w_k, s.eps)
        elif qk_norm == "fork":
            aiter.qk_rmsnorm(q, k, self.w_q, self.w_k, s.eps)
        elif qk_norm == "fork2":
            aiter.rms_norm_cu(q, q, self.w_q, s.eps)
            aiter.rms_norm_cu(k, k, self.w_k, s.eps)
        else:
            raise ValueError(qk_norm)
        attn = q.reshape(T, s.q_width)  # attention left out: q stands in for its output
        o = attn @ self.w_o.t()
        h2, res2 = torch.empty_like(o), torch.empty_like(o)
        aiter.rmsnorm2d_fwd_with_add(h2, o, res, res2, self.w_post, s.eps)
        gate_up = h2 @ self.w_gate_up.t()
        act = F.silu(gate_up[:, :s.intermediate]) * gate_up[:, s.intermediate:]
        return act @ self.w_down.t(), res2, q, k


VARIANTS = ("guard", "fork", "fork2")


def check_variants(layer: Layer) -> dict:
    """The variants' Q/K norms equal bit for bit; their layer outputs within
    bf16 rounding. Returns the largest differences; raises SystemExit otherwise."""
    outs = {v: [t.clone() for t in layer.run(v)] for v in VARIANTS}
    ref = outs["guard"]
    report = {}
    for v in VARIANTS[1:]:
        out, res, q, k = outs[v]
        if not (torch.equal(q, ref[2]) and torch.equal(k, ref[3])):
            raise SystemExit(f"{v}: the Q/K norm differs from the guard's")
        # The output projection reads a strided view in one variant and a
        # dense copy in the other: GEMM kernels may differ in rounding.
        diffs = []
        for name, got, want in (("layer output", out, ref[0]), ("residual", res, ref[1])):
            diff = (got.float() - want.float()).abs().max().item()
            scale = want.float().abs().max().item()
            if not diff <= 0.02 * scale:  # also catches NaN
                raise SystemExit(f"{v}: {name} differs from the guard's by {diff:.3g} (max {scale:.3g})")
            diffs.append(diff)
        report[v] = max(diffs)
    return report


def graphed(fn, warmup: int = 2):
    """fn captured in a CUDA graph (warmed up on a side stream first):
    a callable that replays it."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    torch.cuda.synchronize()
    return graph.replay


def qk_step(layer: Layer, variant: str):
    """The Q/K norm step alone (on the layer's own QKV output), for the kernel-level ratio."""
    s, T = layer.s, layer.T
    qkv = torch.randn(T, s.qkv_width, dtype=layer.x.dtype, device=layer.x.device)
    q = qkv[:, :s.q_width].view(T, s.heads, s.head_dim)
    k = qkv[:, s.q_width:s.q_width + s.kv_width].view(T, s.kv_heads, s.head_dim)
    if variant == "guard":
        return lambda: (aiter.rms_norm(q.contiguous(), layer.w_q, s.eps), aiter.rms_norm(k.contiguous(), layer.w_k, s.eps))
    if variant == "fork":
        return lambda: aiter.qk_rmsnorm(q, k, layer.w_q, layer.w_k, s.eps)
    return lambda: (aiter.rms_norm_cu(q, q, layer.w_q, s.eps), aiter.rms_norm_cu(k, k, layer.w_k, s.eps))


def measure(layer: Layer, args) -> dict:
    timer = Timer("cuda", args.warmup, args.rep)
    layer_fns = {v: graphed(lambda v=v: layer.run(v)) for v in VARIANTS}
    layer_t = time_rounds(timer, layer_fns, args.rounds)
    step_fns = {v: graphed(qk_step(layer, v)) for v in VARIANTS}
    step_t = time_rounds(timer, step_fns, args.rounds)
    return {"layer_us": {v: layer_t[v][0] for v in VARIANTS}, "layer_spread": {v: layer_t[v][1] for v in VARIANTS},
            "qk_step_us": {v: step_t[v][0] for v in VARIANTS}, "timer": timer.method}


def markdown(results: list, header: dict) -> str:
    lines = ["# Decoder layer (Qwen3-8B shapes): guard vs fork", ""]
    lines += [f"- **{k}**: {v}" for k, v in header.items()]
    lines += ["", "Layer = input fused add + RMSNorm, QKV projection, Q/K norm, (attention left out: the "
              "normalised q stands in for its output), output projection, post-attention fused add + RMSNorm, "
              "gated MLP; each variant one CUDA graph. guard: `.contiguous()` copies of the Q and K slices, then "
              "`aiter.rms_norm` on each; fork: `aiter.qk_rmsnorm` in place on the slices (one launch); fork2: "
              "`aiter.rms_norm_cu` in place on each slice (two launches, no copies). saved = (guard - fork) / "
              "guard.", "",
              "| phase | T | guard us | fork us | fork2 us | saved us | saved % | fork2 saved % | Q/K step: guard us "
              "| fork us | fork2 us | x guard |", "|---|---:|" + "---:|" * 10]
    for r in results:
        lt, st = r["layer_us"], r["qk_step_us"]
        saved = lt["guard"] - lt["fork"]
        lines.append(f"| {r['phase']} | {r['T']} | {lt['guard']:.1f} | {lt['fork']:.1f} | {lt['fork2']:.1f} | "
                     f"{saved:.1f} | {100 * saved / lt['guard']:.2f}% | "
                     f"{100 * (lt['guard'] - lt['fork2']) / lt['guard']:.2f}% | {st['guard']:.2f} | {st['fork']:.2f} | "
                     f"{st['fork2']:.2f} | {st['guard'] / st['fork']:.2f}x |")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--quick", action="store_true", help="small shapes and T (CPU smoke run)")
    p.add_argument("--phases", nargs="+", default=list(TOKENS), choices=list(TOKENS))
    p.add_argument("--warmup", type=float, default=50, help="ms per variant per round")
    p.add_argument("--rep", type=float, default=300, help="ms per variant per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json")
    p.add_argument("--md")
    return p.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device (use --device cpu --quick)")
    shapes = SMOKE if args.quick else QWEN3_8B
    tokens = SMOKE_TOKENS if args.quick else TOKENS
    dtype = torch.bfloat16
    results = []
    with torch.no_grad():
        for phase in args.phases:
            T = tokens[phase]
            layer = Layer(shapes, T, dtype, args.device)
            diffs = check_variants(layer)
            log(f"{phase} T={T}: Q/K norms equal bit for bit; layer outputs within "
                f"{max(diffs.values()):.3g} of the guard's")
            entry = {"phase": phase, "T": T, "max_abs_diff_vs_guard": diffs}
            if args.device == "cuda":
                entry.update(measure(layer, args))
                lt = entry["layer_us"]
                log(f"{phase} T={T}: guard {lt['guard']:.1f} us, fork {lt['fork']:.1f} us "
                    f"({100 * (lt['guard'] - lt['fork']) / lt['guard']:.2f}% of the layer saved)")
            results.append(entry)
            del layer
            if args.device == "cuda":
                torch.cuda.empty_cache()
    print("same layer output: every variant matches the guard")
    header = {"device": torch.cuda.get_device_name() if args.device == "cuda" else platform.machine(),
              "shapes": asdict(shapes), "dtype": "bf16", "torch": torch.__version__,
              "aiter": aiter.__version__, "rounds": args.rounds, "warmup_ms": args.warmup, "rep_ms": args.rep,
              "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
    if args.device == "cuda":
        md = markdown(results, header)
        print(md)
        if args.md:
            with open(args.md, "w") as f:
                f.write(md + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "results": results}, f, indent=1)
    return results


if __name__ == "__main__":
    main()
