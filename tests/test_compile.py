"""torch.compile(fullgraph=True) of a small Qwen3-style attention-prelude
block that calls the ops on strided views, against the same module run
eagerly; on CUDA also CUDA-graph capture and replay."""
import pytest
import torch
import torch._dynamo
from torch import nn

import aiter

HIDDEN, HQ, HKV, D = 64, 4, 2, 16
EPS = 1e-6


class QwenPrelude(nn.Module):
    """Packed QKV projection; Q/K-norm on the (T, H, D) slice views (last dim
    dense, row stride (HQ + 2*HKV) * D, so read in place); fused residual add
    + RMSNorm of the residual stream into fresh empty_like buffers."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(HIDDEN, (HQ + 2 * HKV) * D, bias=False)
        self.q_norm = nn.Parameter(torch.randn(D) * 0.1 + 1.0)
        self.k_norm = nn.Parameter(torch.randn(D) * 0.1 + 1.0)
        self.post_norm = nn.Parameter(torch.randn(HIDDEN) * 0.1 + 1.0)

    def forward(self, hidden, residual):
        t = hidden.shape[0]
        qkv = self.qkv(hidden)
        q = qkv[:, : HQ * D].view(t, HQ, D)
        k = qkv[:, HQ * D : (HQ + HKV) * D].view(t, HKV, D)
        v = qkv[:, (HQ + HKV) * D :].view(t, HKV, D)
        q = aiter.rms_norm(q, self.q_norm, EPS)
        k = aiter.rms_norm(k, self.k_norm, EPS)
        # a stand-in for attention that uses q, k and v
        attn = (q * k.repeat_interleave(HQ // HKV, dim=1)).sum(-1)
        mixed = attn.sum(-1, keepdim=True) * 1e-2 + hidden
        out = torch.empty_like(mixed)
        residual_out = torch.empty_like(residual)
        aiter.rmsnorm2d_fwd_with_add(out, mixed, residual, residual_out, self.post_norm, EPS)
        return q, k, v.reshape(t, -1), out, residual_out


def _inputs(device, dtype, t, seed):
    g = torch.Generator(device="cpu").manual_seed(seed)
    hidden = torch.randn(t, HIDDEN, generator=g).to(device=device, dtype=dtype)
    residual = torch.randn(t, HIDDEN, generator=g).to(device=device, dtype=dtype)
    return hidden, residual


def _assert_close(got, want, dtype):
    # Same kernels on both sides; only the surrounding ops (the linear and the
    # attention stand-in) may be fused differently by inductor.
    tol = {torch.float32: 1e-5, torch.bfloat16: 2e-2}[dtype]
    for i, (a, b) in enumerate(zip(got, want)):
        assert a.shape == b.shape and a.dtype == b.dtype, i
        torch.testing.assert_close(a, b, atol=tol, rtol=tol, msg=lambda m: f"output {i}: {m}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_compile_fullgraph_matches_eager(device, dtype):
    torch.manual_seed(0)
    model = QwenPrelude().to(device=device, dtype=dtype)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=False)

    with torch.no_grad():
        h, r = _inputs(device, dtype, 7, 1)
        _assert_close(compiled(h, r), model(h, r), dtype)
        # the slice views really are strided (the point of the test)
        qkv = model.qkv(h)
        assert qkv[:, : HQ * D].view(7, HQ, D).stride() == ((HQ + 2 * HKV) * D, D, 1)

        # second call, same shapes, new data: no recompilation
        h2, r2 = _inputs(device, dtype, 7, 2)
        with torch._dynamo.config.patch(error_on_recompile=True):
            _assert_close(compiled(h2, r2), model(h2, r2), dtype)
    assert aiter.gather_fallback_count() == 0


def test_compile_no_graph_breaks(device):
    """explain() as a second witness to fullgraph=True: one graph, no breaks."""
    model = QwenPrelude().to(device)
    torch._dynamo.reset()
    h, r = _inputs(device, torch.float32, 3, 3)
    with torch.no_grad():
        ex = torch._dynamo.explain(model)(h, r)
    assert ex.graph_break_count == 0, ex.break_reasons
    assert ex.graph_count == 1


@pytest.mark.skipif(
    not (torch.cuda.is_available() and aiter.gpu_backend_available()), reason="needs a CUDA device and a GPU build"
)
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_cuda_graph_capture_and_replay(compiled):
    dtype = torch.bfloat16
    torch.manual_seed(0)
    model = QwenPrelude().to(device="cuda", dtype=dtype)
    fn = model
    if compiled:
        torch._dynamo.reset()
        fn = torch.compile(model, fullgraph=True, dynamic=False)
    static_h, static_r = _inputs("cuda", dtype, 9, 4)

    with torch.no_grad():
        # warm up on a side stream (compilation, allocator) before capture
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2):
                fn(static_h, static_r)
        torch.cuda.current_stream().wait_stream(s)

        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = fn(static_h, static_r)

        for seed in (5, 6):
            h, r = _inputs("cuda", dtype, 9, seed)
            static_h.copy_(h)
            static_r.copy_(r)
            graph.replay()
            torch.cuda.synchronize()
            _assert_close([t.clone() for t in static_out], model(h, r), dtype)
    assert aiter.gather_fallback_count() == 0
