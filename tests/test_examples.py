"""The sglang- and vLLM-style wrappers in examples/ (no caller-side guard)
against "guarded" versions of the same calls: the caller makes the view a
dense (rows, hidden) matrix first, as callers of upstream aiter must, runs the
op, and reshapes the result back. Both run the same kernel over the same
logical rows, so results must be bitwise equal; and the unguarded calls must
read the strided views in place (no gather fallback)."""
import importlib.util
import pathlib

import pytest
import torch

import aiter

from helpers import assert_matches, reference_add_rmsnorm, reference_rmsnorm

ROOT = pathlib.Path(__file__).resolve().parents[1]
EPS = 1e-6
HQ, HKV, D = 32, 8, 128  # the seed: Qwen3 Q/K-norm on a packed QKV projection
QKV_WIDTH = (HQ + 2 * HKV) * D  # 6144


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_examples_{name}", ROOT / "examples" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sglang = _load("sglang_rmsnorm")
vllm = _load("vllm_rmsnorm")


def _slice(qkv, which):
    t = qkv.shape[0]
    if which == "q":
        return qkv[:, : HQ * D].view(t, HQ, D)
    return qkv[:, HQ * D : (HQ + HKV) * D].view(t, HKV, D)


def _seed_views(which, t, dtype, device, seed):
    g = torch.Generator(device="cpu").manual_seed(seed)
    qkv = torch.randn(t, QKV_WIDTH, generator=g).to(device=device, dtype=dtype)
    x = _slice(qkv, which)
    heads = HQ if which == "q" else HKV
    assert x.shape == (t, heads, D) and x.stride()[1:] == (D, 1)
    assert t == 1 or x.stride(0) == QKV_WIDTH  # view() keeps the row pitch when T > 1
    return qkv, x


def _residual(x, layout, seed):
    """A residual with x's shape: dense, or itself a strided slice."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    if layout == "dense":
        return torch.randn(x.shape, generator=g).to(device=x.device, dtype=x.dtype)
    big = torch.randn(x.shape[0], QKV_WIDTH, generator=g).to(device=x.device, dtype=x.dtype)
    return big[:, : x.shape[1] * D].view(x.shape)


def _bits(t):
    return t.contiguous().view(torch.int16 if t.element_size() == 2 else torch.int32)


def _assert_same(actual, guarded, ref64, dtype, what):
    assert actual.shape == guarded.shape, what
    if not torch.equal(_bits(actual), _bits(guarded)):
        # Not expected (same kernel, same rows); still hold to the reference.
        assert_matches(actual, ref64, dtype, what + " (not bitwise equal to guarded)")
        pytest.fail(f"{what}: correct but not bitwise equal to the guarded call")
    assert_matches(actual, ref64, dtype, what)


# --- guarded versions: what a caller of upstream aiter does ------------------


def _guarded_sglang(layer, x, residual=None):
    hidden = x.shape[-1]
    x2 = x.contiguous().reshape(-1, hidden)
    if residual is None:
        return aiter.rmsnorm2d_fwd(x2, layer.weight.data, layer.variance_epsilon).reshape(x.shape)
    r2 = residual.contiguous().reshape(-1, hidden)
    out = torch.empty_like(x2)
    r_out = torch.empty_like(x2)
    aiter.rmsnorm2d_fwd_with_add(out, x2, r2, r_out, layer.weight.data, layer.variance_epsilon)
    return out.reshape(x.shape), r_out.reshape(x.shape)


def _guarded_vllm_rms_norm(out, x, weight, eps):
    hidden = x.shape[-1]
    out2 = torch.empty(x.numel() // hidden, hidden, dtype=x.dtype, device=x.device)
    aiter.rms_norm_cu(out2, x.contiguous().reshape(-1, hidden), weight, eps)
    out.copy_(out2.reshape(out.shape))


def _guarded_vllm_fused_add(x, residual, weight, eps):
    hidden = x.shape[-1]
    x2 = x.contiguous().reshape(-1, hidden).clone()
    r2 = residual.contiguous().reshape(-1, hidden).clone()
    aiter.fused_add_rms_norm_cu(x2, r2, weight, eps)
    x.copy_(x2.reshape(x.shape))
    residual.copy_(r2.reshape(residual.shape))


CASES = [
    pytest.param("q", 2048, torch.bfloat16, id="seed_q_T2048_bf16"),
    pytest.param("k", 2048, torch.bfloat16, id="seed_k_T2048_bf16"),
    pytest.param("q", 7, torch.float16, id="q_T7_f16"),
    pytest.param("k", 1, torch.float32, id="k_T1_f32"),
]


def _weight(dtype, device):
    g = torch.Generator(device="cpu").manual_seed(99)
    return (torch.randn(D, generator=g) * 0.1 + 1.0).to(device=device, dtype=dtype)


@pytest.mark.parametrize("which,t,dtype", CASES)
def test_sglang_plain(device, which, t, dtype):
    layer = sglang.RMSNorm(D, EPS, dtype=dtype).to(device)
    layer.weight.data.copy_(_weight(dtype, device))
    qkv, x = _seed_views(which, t, dtype, device, 1)
    before = qkv.clone()

    got = layer.forward_aiter(x)
    assert aiter.gather_fallback_count() == 0
    want = _guarded_sglang(layer, x)
    _assert_same(got, want, reference_rmsnorm(x, layer.weight, EPS), dtype, f"sglang rms_norm {which}")
    assert torch.equal(qkv, before), "the input projection was written"


@pytest.mark.parametrize("res_layout", ["dense", "strided"])
@pytest.mark.parametrize("which,t,dtype", CASES)
def test_sglang_residual(device, which, t, dtype, res_layout):
    layer = sglang.RMSNorm(D, EPS, dtype=dtype).to(device)
    layer.weight.data.copy_(_weight(dtype, device))
    _, x = _seed_views(which, t, dtype, device, 2)
    residual = _residual(x, res_layout, 3)
    x_before, r_before = x.clone(), residual.clone()

    out, r_out = layer.forward_aiter(x, residual)
    assert aiter.gather_fallback_count() == 0
    g_out, g_r_out = _guarded_sglang(layer, x, residual)
    ref_out, ref_sum = reference_add_rmsnorm(x, residual, layer.weight, EPS)
    _assert_same(r_out, g_r_out, ref_sum, dtype, f"sglang residual_out {which}")
    _assert_same(out, g_out, ref_out, dtype, f"sglang fused out {which}")
    assert torch.equal(x, x_before) and torch.equal(residual, r_before), "inputs were written"


@pytest.mark.parametrize("out_layout", ["dense", "strided"])
@pytest.mark.parametrize("which,t,dtype", CASES)
def test_vllm_rms_norm(device, which, t, dtype, out_layout):
    w = _weight(dtype, device)
    _, x = _seed_views(which, t, dtype, device, 4)
    if out_layout == "dense":
        out = torch.empty(x.shape, dtype=dtype, device=device)
    else:  # write straight into the slice of another packed buffer
        _, out = _seed_views(which, t, dtype, device, 5)
    guarded = torch.empty(x.shape, dtype=dtype, device=device)

    vllm.rms_norm(out, x, w, EPS)
    assert aiter.gather_fallback_count() == 0
    _guarded_vllm_rms_norm(guarded, x, w, EPS)
    _assert_same(out, guarded, reference_rmsnorm(x, w, EPS), dtype, f"vllm rms_norm {which}")


@pytest.mark.parametrize("res_layout", ["dense", "strided"])
@pytest.mark.parametrize("which,t,dtype", CASES)
def test_vllm_fused_add_in_place(device, which, t, dtype, res_layout):
    w = _weight(dtype, device)
    qkv, x = _seed_views(which, t, dtype, device, 6)
    residual = _residual(x, res_layout, 7)
    ref_out, ref_sum = reference_add_rmsnorm(x, residual, w, EPS)
    gx, gr = x.clone(), residual.clone()
    v_before = qkv[:, (HQ + HKV) * D :].clone()

    vllm.fused_add_rms_norm(x, residual, w, EPS)
    assert aiter.gather_fallback_count() == 0
    _guarded_vllm_fused_add(gx, gr, w, EPS)
    _assert_same(residual, gr, ref_sum, dtype, f"vllm fused residual {which}")
    _assert_same(x, gx, ref_out, dtype, f"vllm fused input {which}")
    # the in-place write stayed inside the slice (V columns untouched)
    assert torch.equal(qkv[:, (HQ + HKV) * D :], v_before)


def test_vllm_layer_forward(device):
    layer = vllm.RMSNorm(D, EPS, dtype=torch.bfloat16).to(device)
    _, x = _seed_views("q", 16, torch.bfloat16, device, 8)
    out = layer(x)
    assert_matches(out, reference_rmsnorm(x, layer.weight, EPS), torch.bfloat16, "vllm layer")
    residual = _residual(x, "dense", 9)
    ref_out, ref_sum = reference_add_rmsnorm(x, residual, layer.weight, EPS)
    o, r = layer(x, residual)
    assert o is x and r is residual
    assert_matches(r, ref_sum, torch.bfloat16, "vllm layer residual")
    assert_matches(o, ref_out, torch.bfloat16, "vllm layer out")
    assert aiter.gather_fallback_count() == 0
