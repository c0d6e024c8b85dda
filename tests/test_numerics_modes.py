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
