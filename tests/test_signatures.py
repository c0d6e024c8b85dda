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
    # quantised RMSNorm (aiter/ops/rmsnorm.py upstream)
    "rmsnorm2d_fwd_with_smoothquant": "(out, input, xscale, yscale, weight, epsilon, use_model_sensitive_rmsnorm=0)",
    "rmsnorm2d_fwd_with_add_smoothquant": "(out, input, residual_in, residual_out, xscale, yscale, weight, epsilon, "
    "out_before_quant=None, use_model_sensitive_rmsnorm=0)",
    "rmsnorm2d_fwd_with_dynamicquant": "(out, input, yscale, weight, epsilon, use_model_sensitive_rmsnorm=0, "
    "group_size=0, shuffle_scale=False)",
    "rmsnorm2d_fwd_with_add_dynamicquant": "(out, input, residual_in, residual_out, yscale, weight, epsilon, "
    "use_model_sensitive_rmsnorm=0, group_size=0, shuffle_scale=False)",
    # HIP-module names; upstream's newer sources append gemma_norm
    "rmsnorm_quant": "(out, input, scale, weight, epsilon, group_size=0, shuffle_scale=False, gemma_norm=False)",
    "add_rmsnorm_quant": "(out, input, residual_in, residual_out, scale, weight, epsilon, group_size=0, "
    "shuffle_scale=False, gemma_norm=False)",
    # LayerNorm (aiter/ops/norm.py upstream)
    "layer_norm": "(input, weight=None, bias=None, epsilon=1e-05, x_bias=None)",
    "layernorm2d_fwd": "(input, weight, bias, epsilon=1e-05, x_bias=None)",
    "layernorm2d_fwd_with_add": "(out, input, residual_in, residual_out, weight, bias, epsilon, x_bias=None)",
    "layernorm2d_fwd_with_smoothquant": "(out, input, xscale, yscale, weight, bias, epsilon, x_bias=None)",
    "layernorm2d_fwd_with_add_smoothquant": "(out, input, residual_in, residual_out, xscale, yscale, weight, bias, "
    "epsilon, x_bias=None)",
    # ours (no upstream counterpart)
    "qk_rmsnorm": "(q, k, q_weight, k_weight, epsilon, q_out=None, k_out=None)",
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
    assert isinstance(aiter.layer_norm(x), torch.Tensor)
    assert isinstance(aiter.layernorm2d_fwd(x, w, w), torch.Tensor)
    q8, ys = torch.empty(2, 8, dtype=torch.int8), torch.empty(2, 1)
    assert aiter.rmsnorm2d_fwd_with_dynamicquant(q8, x, ys, w, 1e-6) is None
    assert aiter.rmsnorm_quant(q8, x, ys, w, 1e-6) is None
    assert aiter.layernorm2d_fwd_with_smoothquant(q8, x, torch.ones(8), ys, w, w, 1e-5) is None
    q, k = x.clone(), x.clone()
    qo, ko = aiter.qk_rmsnorm(q, k, w, w, 1e-6)
    assert qo is q and ko is k


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
