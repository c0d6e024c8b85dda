"""Pins every public signature to upstream aiter's (DESIGN section 3)."""
import importlib
import inspect
import logging

import pytest
import torch

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
    # upstream's *_opus entry points (aiter/ops/rmsnorm.py)
    "rms_norm_opus": "(out, input, weight, epsilon, model_sensitive=0, gemma_norm=False)",
    "fused_add_rms_norm_opus": "(input, residual, weight, epsilon, model_sensitive=0, gemma_norm=False)",
    "rmsnorm2d_fwd_opus": "(input, weight, epsilon, use_model_sensitive_rmsnorm=0)",
    "rmsnorm2d_fwd_with_add_opus": "(out, input, residual_in, residual_out, weight, epsilon, "
    "use_model_sensitive_rmsnorm=0, gemma_norm=False)",
    "rmsnorm2d_fwd_with_dynamicquant_opus": "(out, input, yscale, weight, epsilon, use_model_sensitive_rmsnorm=0)",
    "rmsnorm2d_fwd_with_smoothquant_opus": "(out, input, xscale, yscale, weight, epsilon, "
    "use_model_sensitive_rmsnorm=0)",
    "rmsnorm2d_fwd_with_add_dynamicquant_opus": "(out, input, residual_in, residual_out, yscale, weight, epsilon, "
    "use_model_sensitive_rmsnorm=0)",
    "rmsnorm2d_fwd_with_add_smoothquant_opus": "(out, input, residual_in, residual_out, xscale, yscale, weight, "
    "epsilon, out_before_quant=None, use_model_sensitive_rmsnorm=0)",
    # upstream's fused Q/K (aiter/ops/fused_qk_rmsnorm_group_quant.py)
    "fused_qk_rmsnorm_group_quant": "(q_out_quantized=None, q_out_scale=None, q=None, q_weight=None, "
    "q_epsilon=1e-06, q_out_unquantized=None, k_out=None, q_res_out=None, k=None, k_weight=None, k_epsilon=None, "
    "q_residual=None, group_size=128, transpose_scale=False, gemma_norm=False)",
    "fused_qk_rmsnorm_per_token_quant": "(q_out_quantized, q_out_scale, q, q_weight, q_epsilon, "
    "q_out_unquantized=None, k_out=None, q_res_out=None, k=None, k_weight=None, k_epsilon=None, q_residual=None, "
    "gemma_norm=False)",
    "fused_qk_rmsnorm": "(q_out_quantized=None, q_out_scale=None, q=None, q_weight=None, q_epsilon=1e-06, "
    "q_out_unquantized=None, k_out=None, q_res_out=None, k=None, k_weight=None, k_epsilon=None, q_residual=None, "
    "gemma_norm=False, quant_type=<QuantType.No: 0>, group_size=None, transpose_scale=False)",
    # ours (no upstream counterpart)
    "qk_rmsnorm": "(q, k, q_weight, k_weight, epsilon, q_out=None, k_out=None)",
}

# The public functions of upstream's aiter/ops/rmsnorm.py, norm.py and
# fused_qk_rmsnorm_group_quant.py at e4048607a535ace3a2b51ded31b1c8c2d45c0879, by module.
UPSTREAM_MODULES = {
    "aiter.ops.rmsnorm": [
        "rms_norm_opus", "fused_add_rms_norm_opus", "rmsnorm2d_fwd_opus", "rmsnorm2d_fwd_with_add_opus",
        "rmsnorm2d_fwd_with_dynamicquant_opus", "rmsnorm2d_fwd_with_smoothquant_opus",
        "rmsnorm2d_fwd_with_add_dynamicquant_opus", "rmsnorm2d_fwd_with_add_smoothquant_opus", "rms_norm_cu",
        "fused_add_rms_norm_cu", "rms_norm", "rmsnorm2d_fwd", "rmsnorm2d_fwd_with_add",
        "rmsnorm2d_fwd_with_smoothquant", "rmsnorm2d_fwd_with_add_smoothquant", "rmsnorm2d_fwd_with_dynamicquant",
        "rmsnorm2d_fwd_with_add_dynamicquant", "add_rmsnorm_quant", "add_rmsnorm", "rmsnorm_quant", "rmsnorm",
    ],
    "aiter.ops.norm": [
        "layer_norm", "layernorm2d_fwd", "layernorm2d_fwd_with_add", "layernorm2d_fwd_with_smoothquant",
        "layernorm2d_fwd_with_add_smoothquant",
    ],
    "aiter.ops.fused_qk_rmsnorm_group_quant": [
        "fused_qk_rmsnorm_group_quant", "fused_qk_rmsnorm_per_token_quant", "fused_qk_rmsnorm",
    ],
}

# Upstream's test helpers its norm op_tests import, by where they import them from.
HELPERS = {
    ("aiter.test_common", "checkAllclose"): "(a, b, rtol=0.01, atol=0.01, tol_err_ratio=0.05, msg='', printNum=8, "
    "printLog=True, max_abs_delta=None, catastrophic_check=False)",
    ("aiter.test_common", "perftest"): "(num_iters=101, num_warmup=2, testGraph=False, num_rotate_args=0, "
    "needTrace=False, use_cuda_event=False)",
    ("aiter.test_common", "benchmark"): "()",
    ("aiter", "pertoken_quant"): "(x, scale=None, x_scale=None, scale_dtype=torch.float32, quant_dtype=torch.int8, "
    "dtypeMax=None)",
    ("aiter", "per_tensor_quant"): "(x, scale=None, scale_dtype=torch.float32, quant_dtype=torch.int8, dtypeMax=None)",
    ("aiter", "get_torch_quant"): "(qType)",
    ("aiter", "get_dtype_max"): "(dtype)",
    ("aiter", "get_gfx"): "()",
    ("aiter.utility.dtypes", "str2Dtype"): "(v)",
    ("aiter.utility.fp4_utils", "mxfp4_to_f32"): "(x)",
}


def plain_signature(fn):
    sig = inspect.signature(fn)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_public_signature_matches_upstream(name):
    assert plain_signature(getattr(aiter, name)) == EXPECTED[name]


def test_all_29_upstream_entry_points_are_pinned():
    names = [n for module in UPSTREAM_MODULES.values() for n in module]
    assert len(names) == len(set(names)) == 29
    assert not set(names) - set(EXPECTED), "an upstream entry point has no pinned signature"


@pytest.mark.parametrize("module", list(UPSTREAM_MODULES))
def test_upstream_module_paths_hold_their_functions(module):
    """`from aiter.ops.rmsnorm import rms_norm_opus` works as upstream: each
    name is the same function as aiter.<name>."""
    mod = importlib.import_module(module)
    for name in UPSTREAM_MODULES[module]:
        assert getattr(mod, name) is getattr(aiter, name), f"{module}.{name}"


@pytest.mark.parametrize("where, name", list(HELPERS))
def test_helper_signature_matches_upstream(where, name):
    assert plain_signature(getattr(importlib.import_module(where), name)) == HELPERS[(where, name)]


def test_helper_values_match_upstream():
    from aiter import QuantType, dtypes
    from aiter.utility import dtypes as utility_dtypes

    assert dtypes is utility_dtypes
    assert [(m.name, int(m)) for m in QuantType] == [
        ("No", 0), ("per_Tensor", 1), ("per_Token", 2), ("per_1x32", 3), ("per_1x128", 4), ("per_128x128", 5),
        ("per_256x128", 6), ("per_1024x128", 7)]
    assert str(QuantType.per_Token) == "QuantType.per_Token"
    assert list(dtypes.d_dtypes) == ["fp8", "fp8_e8m0", "fp16", "bf16", "fp32", "i4x2", "fp4x2", "u32", "i32", "i16",
                                     "i8", "u8", "i64", "u64"]
    assert all(dtypes.d_dtypes[k] is getattr(dtypes, k) for k in dtypes.d_dtypes)
    assert (dtypes.fp16, dtypes.bf16, dtypes.fp32, dtypes.i8) == (torch.float16, torch.bfloat16, torch.float32,
                                                                  torch.int8)
    assert isinstance(aiter.logger, logging.Logger) and aiter.logger.name == "aiter"


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
    assert aiter.rms_norm_opus(torch.empty_like(x), x, w, 1e-6) is None
    assert aiter.fused_add_rms_norm_opus(x.clone(), x.clone(), w, 1e-6) is None
    assert isinstance(aiter.rmsnorm2d_fwd_opus(x, w, 1e-6), torch.Tensor)
    assert aiter.rmsnorm2d_fwd_with_dynamicquant_opus(q8, x, ys, w, 1e-6) is None
    assert aiter.fused_qk_rmsnorm(torch.empty_like(x), None, x, w, 1e-6, k_out=torch.empty_like(x), k=x,
                                  k_weight=w) is None
    assert aiter.fused_qk_rmsnorm_per_token_quant(q8.view(torch.float8_e4m3fn), ys, x, w, 1e-6) is None
    assert aiter.fused_qk_rmsnorm_group_quant(q8.view(torch.float8_e4m3fn), torch.empty(2, 2), x, w,
                                              group_size=4) is None


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
