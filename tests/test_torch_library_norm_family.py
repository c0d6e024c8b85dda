"""torch.library.opcheck over the norm-family ops (quantised RMSNorm,
LayerNorm, fused Q/K), like test_torch_library.py: schema mutation
annotations, autograd registration, fake impls and AOT dispatch with dynamic
shapes, on strided views of a packed QKV buffer and dense tensors.

opcheck's schema test compares outputs with arithmetic torch lacks for
float8 dtypes (no mul kernel on the CPU; not guaranteed on CUDA either), so the
quantised samples write int8 (the fp8 encoders are tested against torch's
casts in test_quant_convert.py and the fp8 outputs in
test_norm_family_layouts.py)."""
import pytest
import torch

import aiter  # noqa: F401

from test_torch_library import D, HIDDEN, HKV, HQ, T, _packed_qkv, _run_opcheck

EPS = 1e-6
ops = torch.ops.aiter


def _q(dtype, device):
    return torch.int8


def _rows(*shape, device, dtype):
    return torch.randn(*shape, device=device, dtype=dtype)


def _rmsnorm_quant_samples(device):
    for dtype, qdtype in ((torch.bfloat16, torch.int8), (torch.float32, torch.float8_e4m3fn),
                          (torch.float16, torch.float8_e4m3fnuz)):
        x = _rows(T, HIDDEN, device=device, dtype=dtype)
        w = _rows(HIDDEN, device=device, dtype=dtype)
        qdtype = _q(qdtype, device)
        out = torch.empty(T, HIDDEN, device=device, dtype=qdtype)
        yield "per_token", (out, x, torch.empty(T, 1, device=device), w, EPS), {}
        _, q, _ = _packed_qkv(device, dtype)
        wd = _rows(D, device=device, dtype=dtype)
        yield "q_slice_smooth", (torch.empty(T, HQ, D, device=device, dtype=qdtype), q, torch.empty(T, HQ, device=device),
                                 wd, EPS), {"xscale": torch.rand(D, device=device) + 0.5,
                                            "out_before_quant": torch.empty(T, HQ, D, device=device, dtype=dtype)}
        yield "group", (torch.empty(T, HIDDEN, device=device, dtype=qdtype), x, torch.empty(T, HIDDEN // 16, device=device),
                        w, EPS), {"group_size": 16, "shuffle_scale": True}


def _add_rmsnorm_quant_samples(device):
    dtype = torch.bfloat16
    x, r = _rows(T, HIDDEN, device=device, dtype=dtype), _rows(T, HIDDEN, device=device, dtype=dtype)
    w = _rows(HIDDEN, device=device, dtype=dtype)
    q8 = lambda: torch.empty(T, HIDDEN, device=device, dtype=torch.int8)  # noqa: E731
    yield "dynamic", (q8(), x, r, torch.empty_like(r), torch.empty(T, device=device), w, EPS), {}
    r2 = r.clone()
    yield "residual_in_place_smooth", (q8(), x, r2, r2, torch.empty(T, 1, device=device), w, EPS), {
        "xscale": torch.rand(HIDDEN, device=device), "out_before_quant": torch.empty_like(x), "gemma_norm": True}


def _layernorm_samples(device):
    for dtype in (torch.float32, torch.bfloat16):
        x = _rows(T, HIDDEN, device=device, dtype=dtype)
        w, b = _rows(HIDDEN, device=device, dtype=dtype), _rows(HIDDEN, device=device, dtype=dtype)
        yield "affine", (torch.empty_like(x), x, w, b, 1e-5), {}
        yield "no_affine_x_bias", (torch.empty_like(x), x, None, None, 1e-5), {"x_bias": b}
        _, q, _ = _packed_qkv(device, dtype)
        wd = _rows(D, device=device, dtype=dtype)
        _, q2, _ = _packed_qkv(device, dtype)
        yield "q_slice_in_place", (q2, q2, wd, wd, 1e-5), {}


def _add_layernorm_samples(device):
    dtype = torch.float16
    x, r = _rows(T, HIDDEN, device=device, dtype=dtype), _rows(T, HIDDEN, device=device, dtype=dtype)
    w = _rows(HIDDEN, device=device, dtype=dtype)
    yield "plain", (torch.empty_like(x), x, r, torch.empty_like(r), w, w, 1e-5), {"x_bias": w}


def _layernorm_quant_samples(device):
    dtype = torch.bfloat16
    x = _rows(T, HIDDEN, device=device, dtype=dtype)
    w = _rows(HIDDEN, device=device, dtype=dtype)
    yield "smooth", (torch.empty(T, HIDDEN, device=device, dtype=torch.int8), x, torch.empty(T, 1, device=device),
                     w, w, 1e-5), {"xscale": torch.rand(HIDDEN, device=device), "x_bias": w}


def _add_layernorm_quant_samples(device):
    dtype = torch.float32
    x, r = _rows(T, HIDDEN, device=device, dtype=dtype), _rows(T, HIDDEN, device=device, dtype=dtype)
    w = _rows(HIDDEN, device=device, dtype=dtype)
    yield "smooth", (torch.empty(T, HIDDEN, device=device, dtype=_q(torch.float8_e4m3fn, device)), x, r, torch.empty_like(r),
                     torch.empty(T, device=device), w, None, 1e-5), {"xscale": torch.rand(HIDDEN, device=device)}


def _qk_samples(device):
    for dtype in (torch.bfloat16, torch.float32):
        _, q, k = _packed_qkv(device, dtype)
        wq, wk = _rows(D, device=device, dtype=dtype), _rows(D, device=device, dtype=dtype)
        yield "slices_to_dense", (torch.empty(T, HQ, D, device=device, dtype=dtype), q, wq,
                                  torch.empty(T, HKV, D, device=device, dtype=dtype), k, wk, EPS), {}


def _qk_inplace_samples(device):
    for dtype in (torch.bfloat16, torch.float16):
        _, q, k = _packed_qkv(device, dtype)
        yield "slices", (q, k, _rows(D, device=device, dtype=dtype), _rows(D, device=device, dtype=dtype), EPS), {}


def _fused_qk_samples(device):
    """upstream's fused Q/K op in each of its modes (quantising samples write int8)."""
    dtype = torch.bfloat16
    _, q, k = _packed_qkv(device, dtype)
    wq, wk = _rows(D, device=device, dtype=dtype), _rows(D, device=device, dtype=dtype)
    like_q = lambda: torch.empty(T, HQ, D, device=device, dtype=dtype)  # noqa: E731
    like_k = lambda: torch.empty(T, HKV, D, device=device, dtype=dtype)  # noqa: E731
    yield "one_launch", (like_q(), None, q, wq, EPS, None, like_k(), None, k, wk, EPS, None), {}
    yield "two_launches_both_q_outputs", (like_q(), None, q, wq, EPS, like_q(), like_k(), None, k, wk, 1e-3, None), {
        "gemma_norm": True}
    q8 = torch.empty(T, HQ, D, device=device, dtype=torch.int8)
    yield "per_token_residual", (q8, torch.empty(T * HQ, 1, device=device), q, wq, EPS, like_q(), like_k(), like_q(),
                                 k, wk, EPS, _rows(T, HQ, D, device=device, dtype=dtype)), {"gemma_norm": True}
    x = _rows(T, 64, device=device, dtype=torch.float16)
    yield "group_shuffled_no_k", (torch.empty(T, 64, device=device, dtype=torch.int8), torch.empty(T, 4, device=device),
                                  x, _rows(64, device=device, dtype=torch.float16), EPS, None, None, None, None, None,
                                  EPS, None), {"group_size": 16, "shuffle_scale": True}


SAMPLES = {
    "rmsnorm_quant": _rmsnorm_quant_samples,
    "add_rmsnorm_quant": _add_rmsnorm_quant_samples,
    "layernorm": _layernorm_samples,
    "add_layernorm": _add_layernorm_samples,
    "layernorm_quant": _layernorm_quant_samples,
    "add_layernorm_quant": _add_layernorm_quant_samples,
    "qk_rmsnorm": _qk_samples,
    "qk_rmsnorm_": _qk_inplace_samples,
    "fused_qk_rmsnorm": _fused_qk_samples,
}


@pytest.mark.parametrize("opname", list(SAMPLES))
def test_opcheck(opname, device):
    _run_opcheck(getattr(ops, opname).default, SAMPLES[opname], device)


WRITTEN = {
    "rmsnorm_quant": ["out", "yscale", "out_before_quant"],
    "add_rmsnorm_quant": ["out", "residual_out", "yscale", "out_before_quant"],
    "layernorm": ["out"],
    "add_layernorm": ["out", "residual_out"],
    "layernorm_quant": ["out", "yscale"],
    "add_layernorm_quant": ["out", "residual_out", "yscale"],
    "qk_rmsnorm": ["q_out", "k_out"],
    "qk_rmsnorm_": ["q", "k"],
    "fused_qk_rmsnorm": ["q_out_quantized", "q_out_scale", "q_out_unquantized", "k_out", "q_res_out"],
}


@pytest.mark.parametrize("opname", list(WRITTEN))
def test_schema_marks_mutations(opname):
    schema = getattr(ops, opname).default._schema
    written = [a.name for a in schema.arguments if a.alias_info is not None and a.alias_info.is_write]
    assert written == WRITTEN[opname]
    assert len(schema.returns) == 0
