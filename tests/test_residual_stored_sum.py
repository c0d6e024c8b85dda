"""Every entry point that adds a residual normalises residual_out as stored
(input + residual rounded to the dtype once), not the unrounded sum:

- its `out` equals the plain op applied to the stored residual_out (bit for
  bit on the CPU, where both run one code path; within one ulp on a GPU,
  whose launches of the two may differ);
- where the sum overflows fp16 the stored row holds inf, so RMSNorm's out is
  NaN there and 0 elsewhere and LayerNorm's is NaN throughout;
- LayerNorm rows whose spread is about one ulp of their mean: rounding the sum
  changes the normalised values by far more than the tolerance, so the
  output matches the stored sum's float64 reference and not the unrounded
  one's (the test checks that it can tell them apart).
"""
import pytest
import torch

import aiter
from helpers import TOLERANCE, assert_matches, reference_layernorm, reference_rmsnorm

EPS = 1e-6
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def _fresh(x, r):
    return torch.empty_like(x), torch.empty_like(x)


# Each adder: (x, r, w, b) -> (out, residual_out); its plain twin: (s, w, b) -> out.
def _with_add(x, r, w, b):
    out, r_out = _fresh(x, r)
    aiter.rmsnorm2d_fwd_with_add(out, x, r, r_out, w, EPS)
    return out, r_out


def _add_rmsnorm(x, r, w, b):
    out, r_out = _fresh(x, r)
    aiter.add_rmsnorm(out, x, r, r_out, w, EPS, True)
    return out, r_out


def _with_add_opus(x, r, w, b):
    out, r_out = _fresh(x, r)
    aiter.rmsnorm2d_fwd_with_add_opus(out, x, r, r_out, w, EPS, 1)
    return out, r_out


def _fused_add_cu(x, r, w, b):
    x, r = x.clone(), r.clone()
    aiter.fused_add_rms_norm_cu(x, r, w, EPS)
    return x, r


def _fused_add_opus(x, r, w, b):
    x, r = x.clone(), r.clone()
    aiter.fused_add_rms_norm_opus(x, r, w, EPS)
    return x, r


def _fused_qk(x, r, w, b):
    out, r_out = _fresh(x, r)
    aiter.fused_qk_rmsnorm(out, None, x, w, EPS, q_res_out=r_out, q_residual=r)
    return out, r_out


def _smoothquant_before(x, r, w, b):
    out, r_out = _fresh(x, r)
    before = torch.empty_like(x)
    q8, scale = torch.empty(x.shape, dtype=torch.int8, device=x.device), torch.empty(x.shape[0], 1, device=x.device)
    aiter.rmsnorm2d_fwd_with_add_smoothquant(q8, x, r, r_out, torch.ones(x.shape[-1], device=x.device), scale, w, EPS,
                                             before)
    return before, r_out


def _dynamicquant(x, r, w, b):
    _, r_out = _fresh(x, r)
    q8, scale = torch.empty(x.shape, dtype=torch.int8, device=x.device), torch.empty(x.shape[0], 1, device=x.device)
    aiter.rmsnorm2d_fwd_with_add_dynamicquant(q8, x, r, r_out, scale, w, EPS)
    return (q8, scale), r_out


def _layernorm_add(x, r, w, b):
    out, r_out = _fresh(x, r)
    aiter.layernorm2d_fwd_with_add(out, x, r, r_out, w, b, 1e-5)
    return out, r_out


def _plain_rms(s, w, b):
    return aiter.rms_norm(s, w, EPS)


def _plain_gemma(s, w, b):
    out = torch.empty_like(s)
    aiter.rmsnorm(out, s, w, EPS, True)
    return out


def _plain_model_sensitive(s, w, b):
    return aiter.rmsnorm2d_fwd(s, w, EPS, 1)


def _plain_dynamicquant(s, w, b):
    q8, scale = torch.empty(s.shape, dtype=torch.int8, device=s.device), torch.empty(s.shape[0], 1, device=s.device)
    aiter.rmsnorm2d_fwd_with_dynamicquant(q8, s, scale, w, EPS)
    return q8, scale


def _plain_smoothquant_before(s, w, b):
    """out_before_quant of the quantising RMSNorm without the add (the
    registered op: no public function without the add takes it)."""
    before = torch.empty_like(s)
    q8, scale = torch.empty(s.shape, dtype=torch.int8, device=s.device), torch.empty(s.shape[0], 1, device=s.device)
    torch.ops.aiter.rmsnorm_quant(q8, s, scale, w, EPS, torch.ones(s.shape[-1], device=s.device), before)
    return before


def _plain_layernorm(s, w, b):
    return aiter.layernorm2d_fwd(s, w, b, 1e-5)


ADDERS = {  # name: (fused add, its plain twin, whether out is a tensor of the dtype (else int8 codes, scales))
    "rmsnorm2d_fwd_with_add": (_with_add, _plain_rms, True),
    "add_rmsnorm-gemma": (_add_rmsnorm, _plain_gemma, True),
    "rmsnorm2d_fwd_with_add_opus-model-sensitive": (_with_add_opus, _plain_model_sensitive, True),
    "fused_add_rms_norm_cu": (_fused_add_cu, _plain_rms, True),
    "fused_add_rms_norm_opus": (_fused_add_opus, _plain_rms, True),
    "fused_qk_rmsnorm-q_residual": (_fused_qk, _plain_rms, True),
    "rmsnorm2d_fwd_with_add_smoothquant-out_before_quant": (_smoothquant_before, _plain_smoothquant_before, True),
    "rmsnorm2d_fwd_with_add_dynamicquant": (_dynamicquant, _plain_dynamicquant, False),
    "layernorm2d_fwd_with_add": (_layernorm_add, _plain_layernorm, True),
}
UNQUANTISED = [n for n in ADDERS if "quant" not in n]  # an inf row has no finite quant scale


def ulps_apart(a, b):
    """|a - b| in units in the last place of the dtype (as ordered integers)."""
    bits = {2: torch.int16, 4: torch.int32}[a.element_size()]
    ia, ib = a.contiguous().view(bits).long(), b.contiguous().view(bits).long()
    sign = 1 << (8 * a.element_size() - 1)
    ia, ib = torch.where(ia < 0, -(ia + sign), ia), torch.where(ib < 0, -(ib + sign), ib)
    return (ia - ib).abs()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", list(ADDERS))
def test_out_is_the_norm_of_residual_out_as_stored(device, name, dtype):
    fused, plain, by_ulps = ADDERS[name]
    gen = torch.Generator().manual_seed(len(name))
    # Inputs well above the residuals: the sum's rounding moves every element.
    x = (torch.randn(64, 512, generator=gen) * 64).to(dtype).to(device)
    r = torch.randn(64, 512, generator=gen).to(dtype).to(device)
    w = (torch.randn(512, generator=gen) * 0.5).to(dtype).to(device)
    b = torch.randn(512, generator=gen).to(dtype).to(device)
    out, r_out = fused(x, r, w, b)
    assert torch.equal(r_out, (x.double() + r.double()).to(dtype)), "residual_out is not the rounded sum"
    want = plain(r_out, w, b)
    if device == "cpu":
        same = all(map(torch.equal, out, want)) if not by_ulps else torch.equal(out, want)
        assert same, f"{name}: out is not the norm of residual_out as stored"
    elif by_ulps:
        assert int(ulps_apart(out, want).max()) <= 1, f"{name}: out is not the norm of residual_out as stored"
    else:  # codes within one step, scales within a few fp32 ulps
        (codes, scale), (want_codes, want_scale) = out, want
        assert int((codes.long() - want_codes.long()).abs().max()) <= 1, f"{name}: codes"
        assert int(ulps_apart(scale, want_scale).max()) <= 4, f"{name}: scales"
    if device == "cpu" and dtype != torch.float32 and by_ulps:
        # The unrounded sum's norm differs: the comparison above can tell the two apart.
        unrounded = plain(x.float() + r.float(), w.float(), b.float()).to(dtype)
        assert not torch.equal(unrounded, want)


@pytest.mark.parametrize("name", UNQUANTISED)
def test_an_fp16_sum_that_overflows_is_normalised_as_inf(device, name):
    fused = ADDERS[name][0]
    x = torch.full((3, 64), 1.0, dtype=torch.float16)
    r = torch.full((3, 64), 0.5, dtype=torch.float16)
    x[1, 5], r[1, 5] = 40000.0, 40000.0  # 80000 > 65504: the stored sum is inf
    x[2, 7], r[2, 7] = -60000.0, -30000.0
    w = torch.linspace(0.5, 1.5, 64, dtype=torch.float16)
    b = torch.zeros(64, dtype=torch.float16)
    out, r_out = fused(x.to(device), r.to(device), w.to(device), b.to(device))
    out, r_out = out.cpu(), r_out.cpu()
    assert torch.isinf(r_out[1, 5]) and torch.isinf(r_out[2, 7])
    if name.startswith("layernorm"):
        want = reference_layernorm(r_out.double(), w, b, 1e-5)
        assert bool(torch.isnan(out[1:]).all())
    else:
        want = reference_rmsnorm(r_out, w, EPS, gemma="gemma" in name, model_sensitive=int("model" in name))
        assert bool(torch.isnan(out[1, 5])) and bool((out[1, torch.arange(64) != 5] == 0).all())
    assert torch.equal(torch.isnan(out), torch.isnan(want))
    assert_matches(out[0], want[0], torch.float16, f"{name}: the finite row")


@pytest.mark.parametrize("dtype, base, ulp", [(torch.float16, 1024.0, 1.0), (torch.bfloat16, 256.0, 2.0)],
                         ids=["fp16", "bf16"])
def test_layernorm_of_near_constant_rows_follows_the_stored_sum(device, dtype, base, ulp):
    gen = torch.Generator().manual_seed(11)
    x = torch.full((8, 256), base, dtype=dtype)
    # Residuals of a few ulps in quarter-ulp steps: the stored sums keep whole ulps only.
    r = (torch.randint(0, 16, (8, 256), generator=gen) * (ulp / 4)).to(dtype)
    w = (torch.rand(256, generator=gen) + 0.5).to(dtype)
    b = torch.randn(256, generator=gen).to(dtype)
    out, r_out = _layernorm_add(x.to(device), r.to(device), w.to(device), b.to(device))
    stored = reference_layernorm(r_out.cpu().double(), w, b, 1e-5)
    unrounded = reference_layernorm(x.double() + r.double(), w, b, 1e-5)
    assert_matches(out.cpu(), stored, dtype, "layernorm2d_fwd_with_add")
    atol, rtol = TOLERANCE[dtype]
    assert bool(((unrounded - stored).abs() > atol + rtol * stored.abs()).any()), "the test cannot tell the sums apart"
