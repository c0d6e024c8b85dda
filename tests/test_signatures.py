"""Pins every public signature to upstream aiter's (DESIGN section 3)."""
import inspect

import pytest

import aiter

EXPECTED = {
    "rms_norm": "(input, weight, epsilon, use_model_sensitive_rmsnorm=0)",
    "rmsnorm2d_fwd": "(input, weight, epsilon, use_model_sensitive_rmsnorm=0)",
    "rmsnorm2d_fwd_with_add": "(out, input, residual_in, residual_out, weight, epsilon, gemma_norm=False, "
    "use_model_sensitive_rmsnorm=0)",
    "rms_norm_cu": "(out, input, weight, epsilon)",
    "fused_add_rms_norm_cu": "(input, residual_in, weight, epsilon)",
    "rmsnorm": "(out, input, weight, epsilon, gemma_norm=False)",
    "add_rmsnorm": "(out, input, residual_in, residual_out, weight, epsilon, gemma_norm=False)",
}


def plain_signature(fn):
    sig = inspect.signature(fn)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_public_signature_matches_upstream(name):
    assert plain_signature(getattr(aiter, name)) == EXPECTED[name]


def test_returning_ops_return_and_writing_ops_return_none():
    import torch

    x, w = torch.randn(2, 8), torch.randn(8)
    assert isinstance(aiter.rms_norm(x, w, 1e-6), torch.Tensor)
    assert aiter.rms_norm_cu(torch.empty_like(x), x, w, 1e-6) is None
    assert aiter.rmsnorm(torch.empty_like(x), x, w, 1e-6) is None


def test_v0_1_12_positional_model_sensitive_argument_is_accepted():
    """v0.1.12 passed use_model_sensitive_rmsnorm as the 7th argument."""
    import torch

    from helpers import reference_add_rmsnorm

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 64, generator=gen).bfloat16()
    r = torch.randn(4, 64, generator=gen).bfloat16()
    w = torch.randn(64, generator=gen).bfloat16()
    old, new = torch.empty_like(x), torch.empty_like(x)
    aiter.rmsnorm2d_fwd_with_add(old, x, r, torch.empty_like(x), w, 1e-6, 1)
    aiter.rmsnorm2d_fwd_with_add(new, x, r, torch.empty_like(x), w, 1e-6, use_model_sensitive_rmsnorm=1)
    assert torch.equal(old, new)
    gemma = torch.empty_like(x)
    aiter.rmsnorm2d_fwd_with_add(gemma, x, r, torch.empty_like(x), w, 1e-6, True)
    want, _ = reference_add_rmsnorm(x, r, w, 1e-6, gemma=True)
    assert (gemma.double() - want).abs().max() < 0.05 * want.abs().max()
