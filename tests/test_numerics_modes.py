"""gemma_norm and use_model_sensitive_rmsnorm, with upstream's meanings."""
import pytest
import torch

import aiter
from helpers import assert_matches, reference_add_rmsnorm, reference_rmsnorm

EPS = 1e-5


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32], ids=str)
@pytest.mark.parametrize("hidden", [128, 4096])
def test_gemma_scales_by_one_plus_weight(device, dtype, hidden):
    gen = torch.Generator().manual_seed(hidden)
    x = torch.randn(33, hidden, generator=gen).to(dtype).to(device)
    r = torch.randn(33, hidden, generator=gen).to(dtype).to(device)
    w = (0.1 * torch.randn(hidden, generator=gen)).to(dtype).to(device)
    out = torch.empty_like(x)
    aiter.rmsnorm(out, x, w, EPS, gemma_norm=True)
    assert_matches(out, reference_rmsnorm(x, w, EPS, gemma=True), dtype, "gemma rmsnorm")
    out2, r_out = torch.empty_like(x), torch.empty_like(x)
    aiter.add_rmsnorm(out2, x, r, r_out, w, EPS, gemma_norm=True)
    want, want_sum = reference_add_rmsnorm(x, r, w, EPS, gemma=True)
    assert_matches(out2, want, dtype, "gemma add_rmsnorm")
    assert torch.equal(r_out, want_sum.to(dtype))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_model_sensitive_rounds_before_the_weight(device, dtype):
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(64, 256, generator=gen).to(dtype).to(device)
    w = (3 * torch.randn(256, generator=gen)).to(dtype).to(device)
    got = aiter.rms_norm(x, w, EPS, use_model_sensitive_rmsnorm=1)
    # Rounding x * inv_rms to the dtype, then weighting, then rounding again:
    # the result is the dtype-rounding of that product in nearly every element.
    want = reference_rmsnorm(x, w, EPS, model_sensitive=1)
    assert_matches(got, want, dtype, "model-sensitive")
    exact = (got.double() == want.to(dtype).double()).float().mean().item()
    plain = aiter.rms_norm(x, w, EPS)
    assert exact > 0.97
    assert not torch.equal(got, plain), "mode 1 must differ from mode 0 somewhere"


# (input, residual_in) bit pairs per dtype: subnormal + subnormal, -tiny +
# tiny, max + max (overflows), inf + -inf, inf + 1, 1 + tiny, and two ties
# (1 + half an ulp, (1 + ulp) + half an ulp) that round to even.
SUM_EDGE_BITS = {
    torch.bfloat16: [(0x0001, 0x0001), (0x8001, 0x0001), (0x7F7F, 0x7F7F), (0x7F80, 0xFF80), (0x7F80, 0x3F80),
                     (0x3F80, 0x0001), (0x3F80, 0x3B80), (0x3F81, 0x3B80)],
    torch.float16: [(0x0001, 0x0001), (0x8001, 0x0001), (0x7BFF, 0x7BFF), (0x7C00, 0xFC00), (0x7C00, 0x3C00),
                    (0x3C00, 0x0001), (0x3C00, 0x1000), (0x3C01, 0x1000)],
}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("rows,hidden", [(64, 128), (3, 4096), (40, 4096)])
def test_residual_sum_rounds_once_for_every_bit_pattern(device, dtype, rows, hidden):
    """residual_out is input + residual_in rounded once to the dtype, for
    random 16-bit patterns (subnormals, infinities, NaNs, sums that
    overflow) and the edge pairs above. The CUDA dense-row kernels add bf16
    as packed pairs (compat_add_bf16x2); fp16, the general kernels, HIP and
    the CPU add in fp32 and round: each must give the correctly rounded sum."""
    gen = torch.Generator().manual_seed(rows * hidden)
    bits = torch.randint(-(1 << 15), 1 << 15, (2, rows, hidden), generator=gen, dtype=torch.int32)
    edges = torch.tensor(SUM_EDGE_BITS[dtype], dtype=torch.int32).t()
    bits[:, 0, :edges.shape[1]] = edges
    bits = bits.to(torch.int16)  # wraps 0x8000-0xFFFF to the same 16-bit patterns
    x, r = bits[0].view(dtype).to(device), bits[1].view(dtype).to(device)
    w = torch.ones(hidden, dtype=dtype, device=device)
    out, r_out = torch.empty_like(x), torch.empty_like(x)
    aiter.add_rmsnorm(out, x, r, r_out, w, EPS)
    want = (x.double() + r.double()).to(dtype).cpu()
    got = r_out.cpu()
    nan = torch.isnan(want)
    assert want.view(torch.int16)[0, 0] == 2 and nan.any() and torch.isinf(want).any()
    assert torch.equal(torch.isnan(got), nan), "NaN positions differ"
    assert torch.equal(got.view(torch.int16)[~nan], want.view(torch.int16)[~nan]), "residual_out is not the rounded sum"
