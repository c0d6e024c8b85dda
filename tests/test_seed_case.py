"""The reported failure: Qwen3 Q/K-norm on slices of the packed QKV
projection, (2048, 32, 128) stride (6144, 128, 1) and (2048, 8, 128), plus the
fused residual path the caller-side guard left uncovered."""
import pytest
import torch

import aiter
from helpers import CanariedView, assert_matches, reference_add_rmsnorm, reference_rmsnorm

T, Q_HEADS, KV_HEADS, HEAD_DIM = 2048, 32, 8, 128
WIDTH = (Q_HEADS + 2 * KV_HEADS) * HEAD_DIM  # 6144
EPS = 1e-6


def packed_qkv(dtype, device):
    gen = torch.Generator().manual_seed(3)
    values = torch.randn(T * WIDTH, generator=gen).to(dtype).to(device)
    # One spare element on each side of the buffer, to catch edge writes.
    buf = CanariedView((T * WIDTH,), (1,), 1, T * WIDTH + 2, dtype, device, values)
    qkv = buf.view.view(T, WIDTH)
    q = qkv[:, : Q_HEADS * HEAD_DIM].view(T, Q_HEADS, HEAD_DIM)
    k = qkv[:, Q_HEADS * HEAD_DIM : (Q_HEADS + KV_HEADS) * HEAD_DIM].view(T, KV_HEADS, HEAD_DIM)
    return buf, q, k


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32], ids=str)
def test_seed_views_have_the_reported_geometry(dtype):
    _, q, k = packed_qkv(dtype, "cpu")
    assert q.shape == (2048, 32, 128) and q.stride() == (6144, 128, 1)
    assert k.shape == (2048, 8, 128) and k.stride() == (6144, 128, 1)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32], ids=str)
def test_qk_norm_on_packed_slices(device, dtype):
    buf, q, k = packed_qkv(dtype, device)
    wq = torch.randn(HEAD_DIM, dtype=torch.float32).to(dtype).to(device)
    wk = torch.randn(HEAD_DIM, dtype=torch.float32).to(dtype).to(device)
    q_out = aiter.rms_norm(q, wq, EPS)
    k_out = aiter.rmsnorm2d_fwd(k, wk, EPS)
    assert_matches(q_out, reference_rmsnorm(q, wq, EPS), dtype, "Q-norm")
    assert_matches(k_out, reference_rmsnorm(k, wk, EPS), dtype, "K-norm")
    assert buf.unchanged()
    assert aiter.gather_fallback_count() == 0


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32], ids=str)
def test_qk_norm_in_place_into_the_packed_buffer(device, dtype):
    buf, q, k = packed_qkv(dtype, device)
    w = torch.randn(HEAD_DIM, dtype=torch.float32).to(dtype).to(device)
    q_before, k_before = q.clone(), k.clone()
    v_before = buf.view.view(T, WIDTH)[:, (Q_HEADS + KV_HEADS) * HEAD_DIM :].clone()
    aiter.rms_norm_cu(q, q, w, EPS)  # out is exactly the input view
    aiter.rmsnorm(k, k, w, EPS)
    assert_matches(q, reference_rmsnorm(q_before, w, EPS), dtype, "Q in place")
    assert_matches(k, reference_rmsnorm(k_before, w, EPS), dtype, "K in place")
    assert torch.equal(buf.view.view(T, WIDTH)[:, (Q_HEADS + KV_HEADS) * HEAD_DIM :], v_before), "V was touched"
    assert buf.untouched_outside()
    assert aiter.gather_fallback_count() == 0


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32], ids=str)
def test_fused_residual_on_packed_slice(device, dtype):
    """sglang's call: output and residual_out from empty_like, input strided."""
    buf, q, _ = packed_qkv(dtype, device)
    residual = torch.randn(q.shape, dtype=torch.float32).to(dtype).to(device)
    w = torch.randn(HEAD_DIM, dtype=torch.float32).to(dtype).to(device)
    out, residual_out = torch.empty_like(q), torch.empty_like(q)
    aiter.rmsnorm2d_fwd_with_add(out, q, residual, residual_out, w, EPS)
    want_out, want_sum = reference_add_rmsnorm(q, residual, w, EPS)
    assert torch.equal(residual_out, want_sum.to(dtype))
    assert_matches(out, want_out, dtype, "fused add on the Q slice")
    assert buf.unchanged()
    assert aiter.gather_fallback_count() == 0


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32], ids=str)
def test_fused_add_in_place_on_packed_slice(device, dtype):
    buf, q, _ = packed_qkv(dtype, device)
    residual_store = torch.randn(T, WIDTH, dtype=torch.float32).to(dtype).to(device)
    residual = residual_store[:, : Q_HEADS * HEAD_DIM].view(T, Q_HEADS, HEAD_DIM)  # strided too
    w = torch.randn(HEAD_DIM, dtype=torch.float32).to(dtype).to(device)
    want_out, want_sum = reference_add_rmsnorm(q.clone(), residual.clone(), w, EPS)
    tail_before = residual_store[:, Q_HEADS * HEAD_DIM :].clone()
    aiter.fused_add_rms_norm_cu(q, residual, w, EPS)
    assert torch.equal(residual, want_sum.to(dtype))
    assert_matches(q, want_out, dtype, "fused add in place")
    assert torch.equal(residual_store[:, Q_HEADS * HEAD_DIM :], tail_before)
    assert buf.untouched_outside()
    assert aiter.gather_fallback_count() == 0
