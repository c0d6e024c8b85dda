"""op_tests/bench_decoder_layer.py on the CPU: the smoke run passes, and its
check catches a fork whose Q/K norm is wrong."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import aiter

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "op_tests" / "bench_decoder_layer.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_decoder_layer", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cpu_smoke_run():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--quick"], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "same layer output" in proc.stdout


def test_layer_matches_a_torch_reference():
    bench = load_bench()
    layer = bench.Layer(bench.SMOKE, 6, torch.float32, "cpu")
    out, res, q, k = layer.run("fork")
    s = bench.SMOKE
    r = layer.x + layer.residual
    h = torch.nn.functional.rms_norm(r, (s.hidden,), layer.w_in, s.eps)
    qkv = h @ layer.w_qkv.t()
    q_ref = torch.nn.functional.rms_norm(qkv[:, :s.q_width].view(6, s.heads, s.head_dim), (s.head_dim,),
                                         layer.w_q, s.eps)
    torch.testing.assert_close(q, q_ref, rtol=1e-4, atol=1e-4)
    o = q_ref.reshape(6, s.q_width) @ layer.w_o.t()
    r2 = o + r
    h2 = torch.nn.functional.rms_norm(r2, (s.hidden,), layer.w_post, s.eps)
    gu = h2 @ layer.w_gate_up.t()
    want = (torch.nn.functional.silu(gu[:, :s.intermediate]) * gu[:, s.intermediate:]) @ layer.w_down.t()
    torch.testing.assert_close(res, r2, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out, want, rtol=1e-3, atol=1e-3)


def test_a_wrong_fork_is_caught(monkeypatch):
    bench = load_bench()
    monkeypatch.setattr(aiter, "qk_rmsnorm", lambda q, k, wq, wk, eps: (q, k))  # normalises nothing
    with pytest.raises(SystemExit, match="fork: the Q/K norm differs"):
        bench.main(["--device", "cpu", "--quick"])
