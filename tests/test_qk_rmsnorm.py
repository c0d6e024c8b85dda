"""aiter.qk_rmsnorm: the Q and K slices of one packed QKV buffer normalised in
one launch, each with its own weight, equal bit for bit to two separate
rms_norm calls, in place and out of place; the V part and the rest of the
buffer stay untouched."""
import pytest
import torch

import aiter
from helpers import CanariedView, assert_matches, reference_rmsnorm, span

DTYPES = [torch.float32, torch.float16, torch.bfloat16]
EPS = 1e-6


def packed(T, hq, hk, hv, d, dtype, device, gen, pad=0, offset=0):
    """A (T, (hq + hk + hv) * d + pad) QKV buffer with canaries around it, and
    its Q and K slices as (T, heads, d) views."""
    width = (hq + hk + hv) * d + pad
    shape, stride = (T, width), (width, 1)
    values = torch.randn(shape, generator=gen).to(dtype)
    buf = CanariedView(shape, stride, offset, span(shape, stride, offset) + 7, dtype, device, values.to(device))
    q = buf.view[:, : hq * d].view(T, hq, d)
    k = buf.view[:, hq * d : (hq + hk) * d].view(T, hk, d)
    return buf, q, k


@pytest.mark.parametrize("d", [7, 64, 128, 256])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("T", [1, 5, 33])
def test_in_place_equals_two_rms_norm_calls(device, T, dtype, d):
    gen = torch.Generator().manual_seed(T * 100 + d)
    buf, q, k = packed(T, 4, 2, 2, d, dtype, device, gen, pad=d % 8, offset=d % 3)
    wq = torch.randn(d, generator=gen).to(dtype).to(device)
    wk = torch.randn(d, generator=gen).to(dtype).to(device)
    want_q, want_k = aiter.rms_norm(q, wq, EPS), aiter.rms_norm(k, wk, EPS)
    v_before = buf.view[:, 6 * d:].clone()
    got_q, got_k = aiter.qk_rmsnorm(q, k, wq, wk, EPS)
    assert got_q is q and got_k is k
    assert torch.equal(q, want_q) and torch.equal(k, want_k)
    assert torch.equal(buf.view[:, 6 * d:], v_before), "the V part changed"
    assert buf.untouched_outside()
    assert aiter.gather_fallback_count() == 0


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("T", [1, 8, 257])
def test_out_of_place_equals_two_rms_norm_calls(device, T, dtype):
    gen = torch.Generator().manual_seed(T)
    d = 128
    buf, q, k = packed(T, 8, 1, 1, d, dtype, device, gen)
    wq = torch.randn(d, generator=gen).to(dtype).to(device)
    wk = torch.randn(d, generator=gen).to(dtype).to(device)
    # Outputs: strided views of another packed buffer.
    obuf, oq, ok = packed(T, 8, 1, 1, d, dtype, device, gen)
    got_q, got_k = aiter.qk_rmsnorm(q, k, wq, wk, EPS, q_out=oq, k_out=ok)
    assert got_q is oq and got_k is ok
    assert torch.equal(oq, aiter.rms_norm(q, wq, EPS)) and torch.equal(ok, aiter.rms_norm(k, wk, EPS))
    assert_matches(oq, reference_rmsnorm(q, wq, EPS), dtype, "q")
    assert_matches(ok, reference_rmsnorm(k, wk, EPS), dtype, "k")
    assert buf.unchanged(), "inputs changed"
    assert torch.equal(obuf.view[:, 9 * d:], obuf.snapshot[obuf.mask].view(T, -1)[:, 9 * d:]), "wrote into V"
    assert obuf.untouched_outside()
    assert aiter.gather_fallback_count() == 0


@pytest.mark.parametrize("T", [48, 4096])
def test_seed_geometry_qwen3(device, T):
    """Qwen3-8B-like: 32 q heads, 8 k heads, 8 v heads of 128 in a (T, 6144)
    buffer. At T = 4096 a GPU launch takes several waves (blocks stage their
    next row group: LaunchConfig::stage_rows)."""
    gen = torch.Generator().manual_seed(3)
    qkv = torch.randn(T, 6144, generator=gen).bfloat16().to(device)
    q, k = qkv[:, :4096].view(T, 32, 128), qkv[:, 4096:5120].view(T, 8, 128)
    wq, wk = (torch.randn(128, generator=gen).bfloat16().to(device) for _ in range(2))
    want = qkv.clone()
    want[:, :4096] = aiter.rms_norm(q, wq, EPS).reshape(T, 4096)
    want[:, 4096:5120] = aiter.rms_norm(k, wk, EPS).reshape(T, 1024)
    aiter.qk_rmsnorm(q, k, wq, wk, EPS)
    assert torch.equal(qkv, want)


def test_different_layouts_and_empty_k(device):
    """q and k need not share a layout; a zero-row k is fine."""
    gen = torch.Generator().manual_seed(5)
    q = torch.randn(3, 4, 32, generator=gen).to(device).transpose(0, 1)  # permuted, last dim dense
    k = torch.randn(2, 3, 32, generator=gen).to(device)
    wq, wk = torch.randn(32, generator=gen).to(device), torch.randn(32, generator=gen).to(device)
    oq, ok = torch.empty_like(q), torch.empty_like(k)
    aiter.qk_rmsnorm(q, k, wq, wk, EPS, oq, ok)
    assert torch.equal(oq, aiter.rms_norm(q, wq, EPS)) and torch.equal(ok, aiter.rms_norm(k, wk, EPS))
    k0 = torch.empty(0, 3, 32, device=device)
    q2 = q.clone()
    aiter.qk_rmsnorm(q2, k0, wq, wk, EPS)
    assert torch.equal(q2, aiter.rms_norm(q, wq, EPS))
