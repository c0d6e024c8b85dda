"""Bad inputs for the quantised RMSNorm, LayerNorm and fused Q/K ops, in the
style of test_bad_inputs.py: the exception type, a message naming the public
op, the argument and the offending shape/dtype/value, and every buffer passed
(outputs and scales included) bitwise unchanged."""
import inspect

import pytest
import torch

import aiter
from aiter import QuantType
from family_calls import CALLS as CALLS_BY_ID, same_bits
from test_bad_inputs import assert_refused, t
from test_eager_path import OpLog, _run_profiled, _took_eager_path

EPS = 1e-6
F32, BF16, I8 = torch.float32, torch.bfloat16, torch.int8
FP8 = torch.float8_e4m3fn
CASES = []


def case(cid, exc, needles):
    def deco(builder):
        CASES.append(pytest.param(builder, exc, needles, id=cid))
        return builder

    return deco


def q(shape, dtype=I8, d="cpu"):
    return torch.zeros(shape, dtype=dtype, device=d)


def s(shape, dtype=F32, d="cpu"):
    return torch.full(shape, 3.0, dtype=dtype, device=d)


# ------------------------------------------------------------ quantised output
@case("dynq-out-bf16", TypeError, ["aiter.rmsnorm2d_fwd_with_dynamicquant:", "'out'", "int8, float8_e4m3fn",
                                   "dtype BFloat16"])
def _(d):
    return aiter.rmsnorm2d_fwd_with_dynamicquant, (t([4, 8], BF16, d), t([4, 8], BF16, d), s([4, 1], d=d),
                                                   t([8], BF16, d), EPS)


@case("dynq-out-uint8", TypeError, ["aiter.rmsnorm_quant:", "'out'", "dtype Byte"])
def _(d):
    return aiter.rmsnorm_quant, (q([4, 8], torch.uint8, d), t([4, 8], device=d), s([4, 1], d=d), t([8], device=d), EPS)


@case("dynq-out-shape", ValueError, ["aiter.rmsnorm2d_fwd_with_dynamicquant:", "'out'", "shape [4, 7]"])
def _(d):
    return aiter.rmsnorm2d_fwd_with_dynamicquant, (q([4, 7], d=d), t([4, 8], device=d), s([4, 1], d=d),
                                                   t([8], device=d), EPS)


@case("dynq-out-overlaps-input", ValueError, ["aiter.rmsnorm2d_fwd_with_dynamicquant:", "'out'", "overlaps",
                                              "'input'"])
def _(d):
    x = t([4, 8], device=d)
    return aiter.rmsnorm2d_fwd_with_dynamicquant, (x.view(I8)[:, :8], x, s([4, 1], d=d), t([8], device=d), EPS)


# ------------------------------------------------------------ scales
@case("dynq-yscale-bf16", TypeError, ["aiter.rmsnorm2d_fwd_with_dynamicquant:", "'yscale'", "float32",
                                      "dtype BFloat16"])
def _(d):
    return aiter.rmsnorm2d_fwd_with_dynamicquant, (q([4, 8], d=d), t([4, 8], device=d), s([4, 1], BF16, d),
                                                   t([8], device=d), EPS)


@case("dynq-yscale-shape", ValueError, ["aiter.rmsnorm2d_fwd_with_add_dynamicquant:", "'yscale'", "shape [4, 1]",
                                        "shape [3, 1]"])
def _(d):
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.rmsnorm2d_fwd_with_add_dynamicquant, (q([4, 8], d=d), x(), x(), x(), s([3, 1], d=d),
                                                       t([8], device=d), EPS)


@case("rmsnorm_quant-scale-named-scale", ValueError, ["aiter.rmsnorm_quant:", "'scale'", "shape [4, 2]",
                                                      "per group"])
def _(d):
    return aiter.rmsnorm_quant, (q([4, 8], d=d), t([4, 8], device=d), s([4, 1], d=d), t([8], device=d), EPS, 4)


@case("group-size-not-dividing", ValueError, ["aiter.rmsnorm_quant:", "'group_size'", "hidden = 8", "got 3"])
def _(d):
    return aiter.rmsnorm_quant, (q([4, 8], d=d), t([4, 8], device=d), s([4, 3], d=d), t([8], device=d), EPS, 3)


@case("group-size-negative", ValueError, ["aiter.rmsnorm2d_fwd_with_dynamicquant:", "'group_size'", "got -1"])
def _(d):
    return aiter.rmsnorm2d_fwd_with_dynamicquant, (q([4, 8], d=d), t([4, 8], device=d), s([4, 1], d=d),
                                                   t([8], device=d), EPS, 0, -1)


@case("shuffle-noncontiguous-scale", ValueError, ["aiter.add_rmsnorm_quant:", "'scale'", "contiguous",
                                                  "shuffle_scale"])
def _(d):
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.add_rmsnorm_quant, (q([4, 8], d=d), x(), x(), x(), s([2, 4], d=d).t(), t([8], device=d), EPS, 4,
                                     True)


@case("yscale-overlaps-out-before-quant", ValueError, ["aiter.rmsnorm2d_fwd_with_add_smoothquant:",
                                                       "'out_before_quant'", "'yscale'"])
def _(d):
    x = lambda: t([4, 8], device=d)  # noqa: E731
    before = x()
    return aiter.rmsnorm2d_fwd_with_add_smoothquant, (q([4, 8], d=d), x(), x(), x(), s([8], d=d),
                                                      before[:, 0], t([8], device=d), EPS, before)


@case("yscale-internal-overlap", ValueError, ["aiter.rmsnorm2d_fwd_with_dynamicquant:", "'yscale'", "overlap"])
def _(d):
    return aiter.rmsnorm2d_fwd_with_dynamicquant, (q([4, 8], d=d), t([4, 8], device=d),
                                                   s([1], d=d).expand(4), t([8], device=d), EPS)


@case("xscale-bf16", TypeError, ["aiter.rmsnorm2d_fwd_with_smoothquant:", "'xscale'", "float32", "dtype BFloat16"])
def _(d):
    return aiter.rmsnorm2d_fwd_with_smoothquant, (q([4, 8], d=d), t([4, 8], device=d), s([8], BF16, d),
                                                  s([4, 1], d=d), t([8], device=d), EPS)


@case("xscale-length", ValueError, ["aiter.layernorm2d_fwd_with_smoothquant:", "'xscale'", "hidden = 8",
                                    "shape [9]"])
def _(d):
    return aiter.layernorm2d_fwd_with_smoothquant, (q([4, 8], d=d), t([4, 8], device=d), s([9], d=d),
                                                    s([4], d=d), t([8], device=d), t([8], device=d), EPS)


@case("out-before-quant-dtype", TypeError, ["aiter.rmsnorm2d_fwd_with_add_smoothquant:", "'out_before_quant'",
                                            "dtype Float"])
def _(d):
    x = lambda: t([4, 8], BF16, d)  # noqa: E731
    return aiter.rmsnorm2d_fwd_with_add_smoothquant, (q([4, 8], FP8, d), x(), x(), x(), s([8], d=d), s([4], d=d),
                                                      t([8], BF16, d), EPS, t([4, 8], device=d))


# ------------------------------------------------------------ LayerNorm
@case("ln-bias-length", ValueError, ["aiter.layernorm2d_fwd:", "'bias'", "hidden = 8", "shape [7]"])
def _(d):
    return aiter.layernorm2d_fwd, (t([4, 8], device=d), t([8], device=d), t([7], device=d))


@case("ln-x_bias-dtype", TypeError, ["aiter.layer_norm:", "'x_bias'", "dtype BFloat16"])
def _(d):
    return aiter.layer_norm, (t([4, 8], device=d), None, None, 1e-5, t([8], BF16, d))


@case("ln-weight-dtype", TypeError, ["aiter.layernorm2d_fwd_with_add:", "'weight'", "dtype BFloat16"])
def _(d):
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.layernorm2d_fwd_with_add, (x(), x(), x(), x(), t([8], BF16, d), t([8], device=d), EPS)


@case("ln-residual-shape", ValueError, ["aiter.layernorm2d_fwd_with_add_smoothquant:", "'residual_in'",
                                        "shape [4, 4]"])
def _(d):
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.layernorm2d_fwd_with_add_smoothquant, (q([4, 8], d=d), x(), t([4, 4], device=d), x(), s([8], d=d),
                                                        s([4, 1], d=d), t([8], device=d), t([8], device=d), EPS)


@case("ln-epsilon-nan", ValueError, ["aiter.layer_norm:", "'epsilon'"])
def _(d):
    return aiter.layer_norm, (t([4, 8], device=d), None, None, float("nan"))


@case("ln-out-overlaps-bias", ValueError, ["aiter.layernorm2d_fwd_with_add:", "'out'", "'bias'"])
def _(d):
    x = lambda: t([4, 8], device=d)  # noqa: E731
    out = x()
    return aiter.layernorm2d_fwd_with_add, (out, x(), x(), x(), t([8], device=d), out[1], EPS)


# ------------------------------------------------------------ fused Q/K
@case("qk-head-dim-mismatch", ValueError, ["aiter.qk_rmsnorm:", "'k'", "head size", "shape [4, 2, 8]"])
def _(d):
    return aiter.qk_rmsnorm, (t([4, 4, 16], device=d), t([4, 2, 8], device=d), t([16], device=d), t([8], device=d),
                              EPS)


@case("qk-k-weight-length", ValueError, ["aiter.qk_rmsnorm:", "'k_weight'", "hidden = 16", "shape [8]"])
def _(d):
    return aiter.qk_rmsnorm, (t([4, 4, 16], device=d), t([4, 2, 16], device=d), t([16], device=d), t([8], device=d),
                              EPS)


@case("qk-q-weight-dtype", TypeError, ["aiter.qk_rmsnorm:", "'q_weight'", "dtype BFloat16"])
def _(d):
    return aiter.qk_rmsnorm, (t([4, 4, 16], device=d), t([4, 2, 16], device=d), t([16], BF16, d),
                              t([16], device=d), EPS)


@case("qk-outputs-overlap", ValueError, ["aiter.qk_rmsnorm:", "'k_out'", "'q_out'"])
def _(d):
    buf = t([4, 6, 16], device=d)
    return aiter.qk_rmsnorm, (t([4, 4, 16], device=d), t([4, 2, 16], device=d), t([16], device=d),
                              t([16], device=d), EPS, buf[:, :4], buf[:, 3:5])


@case("qk-q-out-partly-k", ValueError, ["aiter.qk_rmsnorm:", "'q_out'", "'k'"])
def _(d):
    qkv = t([4, 8, 16], device=d)
    return aiter.qk_rmsnorm, (qkv[:, :2], qkv[:, 4:6], t([16], device=d), t([16], device=d), EPS,
                              qkv[:, 5:7], t([4, 2, 16], device=d))


@case("qk-one-output-only", ValueError, ["aiter.qk_rmsnorm:", "'q_out'", "'k_out'"])
def _(d):
    return aiter.qk_rmsnorm, (t([4, 4, 16], device=d), t([4, 2, 16], device=d), t([16], device=d),
                              t([16], device=d), EPS, t([4, 4, 16], device=d))


@case("layer_norm-input-sparse", ValueError, ["aiter.layer_norm:", "'input'", "Sparse", "shape [4, 8]"])
def _(d):
    return aiter.layer_norm, (t([4, 8], device=d).to_sparse(), t([8], device=d), t([8], device=d))


@case("layernorm2d_fwd-input-0d", ValueError, ["aiter.layernorm2d_fwd:", "'input'", "0-d"])
def _(d):
    return aiter.layernorm2d_fwd, (torch.tensor(1.0, device=d), t([8], device=d), t([8], device=d))


# ------------------------------------------------------------ upstream's fused Q/K
def qk_call(fn, d, quant=False, **overrides):
    """fn with valid arguments (Q (4, 2, 32) and K (4, 1, 16): different head
    sizes, so Q and K take a launch each), some replaced: (fn, positional args)."""
    kw = dict(q=t([4, 2, 32], device=d), q_weight=t([32], device=d), q_epsilon=EPS, k_out=t([4, 1, 16], device=d),
              k=t([4, 1, 16], device=d).add(1), k_weight=t([16], device=d))
    if quant:
        kw.update(q_out_quantized=q([4, 2, 32], FP8, d), q_out_scale=s([8, 1], d=d))
    else:
        kw.update(q_out_quantized=t([4, 2, 32], device=d))
    kw.update(overrides)
    bound = inspect.signature(fn).bind(**kw)
    bound.apply_defaults()
    return fn, bound.args


@case("fqk-quant-without-q-out", ValueError, ["aiter.fused_qk_rmsnorm_per_token_quant:", "'q_out_quantized'",
                                              "'q_out_scale'"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm_per_token_quant, d, quant=True, q_out_quantized=None)


@case("fqk-no-q-output", ValueError, ["aiter.fused_qk_rmsnorm_group_quant:", "'q_out_quantized'",
                                      "'q_out_unquantized'"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm_group_quant, d, q_out_quantized=None)


@case("fqk-residual-without-res-out", ValueError, ["aiter.fused_qk_rmsnorm:", "'q_res_out'", "'q_residual'"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm, d, q_residual=t([4, 2, 32], device=d))


@case("fqk-k-without-k-out", ValueError, ["aiter.fused_qk_rmsnorm:", "'k_out'", "'k'"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm, d, k_out=None)


@case("fqk-k-without-k-weight", ValueError, ["aiter.fused_qk_rmsnorm_group_quant:", "'k_weight'", "'k'"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm_group_quant, d, quant=True, q_out_scale=s([8, 1], d=d), group_size=32,
                   k_weight=None)


@case("fqk-per-token-scale-shape", ValueError, ["aiter.fused_qk_rmsnorm_per_token_quant:", "'q_out_scale'",
                                                "[rows, 1]", "shape [8, 2]"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm_per_token_quant, d, quant=True, q_out_scale=s([8, 2], d=d))


@case("fqk-group-scale-shape", ValueError, ["aiter.fused_qk_rmsnorm:", "'q_out_scale'", "[8, 2]",
                                            "shape [8, 1]"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm, d, quant=True, quant_type=QuantType.per_1x128, group_size=16)


@case("fqk-group-size-zero", ValueError, ["aiter.fused_qk_rmsnorm_group_quant:", "'group_size'", "got 0"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm_group_quant, d, quant=True, group_size=0)


@case("fqk-transpose-scale-strides", ValueError, ["aiter.fused_qk_rmsnorm_group_quant:", "'q_out_scale'",
                                                  "transpose_scale", "stride [2, 16]"])
def _(d):
    scale = s([2, 16], d=d).t()[::2]  # (8, 2) with strides (2, 16): neither layout transpose_scale takes
    return qk_call(aiter.fused_qk_rmsnorm_group_quant, d, quant=True, q_out_scale=scale, group_size=16,
                   transpose_scale=True)


@case("fqk-fp4-output", TypeError, ["aiter.fused_qk_rmsnorm_group_quant:", "'q_out_quantized'", "float8_e4m3fn",
                                    "Float4"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm_group_quant, d, quant=True, group_size=32,
                   q_out_quantized=torch.zeros(4, 2, 16, dtype=torch.uint8, device=d).view(torch.float4_e2m1fn_x2))


@case("fqk-k-dtype", TypeError, ["aiter.fused_qk_rmsnorm:", "'k'", "dtype of 'q'", "dtype BFloat16"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm, d, k=t([4, 1, 16], BF16, d), k_out=t([4, 1, 16], BF16, d),
                   k_weight=t([16], BF16, d))


@case("fqk-k-out-overlaps-q", ValueError, ["aiter.fused_qk_rmsnorm:", "'k_out'", "'q'"])
def _(d):
    qk = t([4, 48], device=d)
    return qk_call(aiter.fused_qk_rmsnorm, d, q=qk[:, :32], q_out_quantized=t([4, 32], device=d),
                   k_out=qk[:, 16:32], k=t([4, 16], device=d))


@case("fqk-q-out-overlaps-k", ValueError, ["aiter.fused_qk_rmsnorm:", "'q_out_quantized'", "'k'"])
def _(d):
    qk = t([4, 48], device=d)
    return qk_call(aiter.fused_qk_rmsnorm, d, q=t([4, 32], device=d), q_out_quantized=qk[:, :32], k=qk[:, 24:40],
                   k_out=t([4, 16], device=d))


@case("fqk-res-out-overlaps-k-weight", ValueError, ["aiter.fused_qk_rmsnorm:", "'q_res_out'", "'k_weight'"])
def _(d):
    buf = t([4, 2, 32], device=d)
    return qk_call(aiter.fused_qk_rmsnorm, d, q_residual=t([4, 2, 32], device=d), q_res_out=buf,
                   k_weight=buf[0, 0, :16])


@case("fqk-both-q-outputs-overlap", ValueError, ["aiter.fused_qk_rmsnorm:", "'q_out_unquantized'",
                                                 "'q_out_quantized'"])
def _(d):
    buf = t([5, 2, 32], device=d)
    return qk_call(aiter.fused_qk_rmsnorm, d, q_out_quantized=buf[:4], q_out_unquantized=buf[1:])


@case("fqk-mirror-shape", ValueError, ["aiter.fused_qk_rmsnorm:", "'q_out_unquantized'", "shape [4, 2, 16]"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm, d, q_out_unquantized=t([4, 2, 16], device=d))


@case("fqk-q-residual-shape", ValueError, ["aiter.fused_qk_rmsnorm_per_token_quant:", "'q_residual'",
                                           "shape [4, 2, 31]"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm_per_token_quant, d, quant=True, q_residual=t([4, 2, 31], device=d),
                   q_res_out=t([4, 2, 32], device=d))


@case("fqk-q-epsilon-negative", ValueError, ["aiter.fused_qk_rmsnorm:", "'epsilon'", "-1"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm, d, q_epsilon=-1.0)


@case("fqk-k-out-shape", ValueError, ["aiter.fused_qk_rmsnorm:", "'k_out'", "shape [4, 16]"])
def _(d):
    return qk_call(aiter.fused_qk_rmsnorm, d, k_out=t([4, 16], device=d))


# ------------------------------------------------------------ per-column lengths, every public op
# Every per-column argument (weight, bias, x_bias, xscale, q_weight, k_weight)
# one element too short and one too long: the launcher wants exactly hidden.
PER_COLUMN = ("weight", "bias", "x_bias", "xscale", "q_weight", "k_weight")


def resized(cid, name, length):
    def build(d):
        call = CALLS_BY_ID[cid](d)
        old = call.kwargs[name]
        call.kwargs[name] = torch.ones(length, dtype=old.dtype, device=old.device)
        return call.fn, positional(call)

    return build


def _per_column_cases():
    seen = set()
    for cid, build in CALLS_BY_ID.items():
        call = build("cpu")
        for name in PER_COLUMN:
            value = call.kwargs.get(name)
            if not isinstance(value, torch.Tensor) or (call.public, name) in seen:
                continue
            seen.add((call.public, name))
            hidden = value.shape[0]
            for length, how in ((hidden - 1, "short"), (hidden + 1, "long")):
                yield pytest.param(resized(cid, name, length), ValueError,
                                   [f"aiter.{call.public}:", f"'{name}'", f"hidden = {hidden}", f"shape [{length}]"],
                                   id=f"{call.public}-{name}-too-{how}")


# ------------------------------------------------------------ non-tensor arguments, every public op
# One valid call per public op (family_calls.py) with one argument replaced.
# Scalars: what neither the eager entry nor torch.ops' schema parser takes.
BAD_SCALARS = {"epsilon": "1e-6", "group_size": 16.0, "shuffle_scale": "yes", "gemma_norm": [1],
               "use_model_sensitive_rmsnorm": None, "model_sensitive": None, "q_epsilon": "1e-6", "k_epsilon": [1e-6]}


def positional(call):
    """The call's arguments as one positional tuple (defaults filled in), so
    assert_refused sees every tensor."""
    bound = inspect.signature(call.fn).bind(**call.kwargs)
    bound.apply_defaults()
    return bound.args


def replaced(cid, name, value):
    def build(d):
        call = CALLS_BY_ID[cid](d)
        call.kwargs[name] = value
        return call.fn, positional(call)

    return build


def _one_call_per_public_op():
    seen = {}
    for cid, build in CALLS_BY_ID.items():
        seen.setdefault(build("cpu").public, cid)
    return seen


for _public, _cid in _one_call_per_public_op().items():
    _call = CALLS_BY_ID[_cid]("cpu")
    for _name in _call.tensors():
        CASES.append(pytest.param(replaced(_cid, _name, [[1.0] * 4]), TypeError,
                                  [f"aiter.{_public}:", f"'{_name}'", "list"], id=f"{_public}-{_name}-list"))
        if _name not in _call.optional() and _name not in _call.conditional():
            CASES.append(pytest.param(replaced(_cid, _name, None), TypeError,
                                      [f"aiter.{_public}:", f"'{_name}'", "None"], id=f"{_public}-{_name}-None"))
    for _name, _value in BAD_SCALARS.items():
        if _name in inspect.signature(_call.fn).parameters:
            CASES.append(pytest.param(replaced(_cid, _name, _value), TypeError,
                                      [f"aiter.{_public}:", f"'{_name}'", type(_value).__name__],
                                      id=f"{_public}-{_name}-{type(_value).__name__}"))


CASES.extend(_per_column_cases())


@pytest.mark.parametrize("builder, exc, needles", CASES)
def test_bad_input(builder, exc, needles, device):
    fn, args = builder(device)
    assert_refused(fn, args, exc, needles)


@pytest.mark.parametrize("builder, exc, needles", CASES)
def test_bad_input_under_a_dispatch_mode(builder, exc, needles):
    """The registered-op route refuses the same calls with the same public
    names (a dispatch mode sends every call there)."""
    fn, args = builder("cpu")
    with OpLog():
        assert_refused(fn, args, exc, needles)


def test_catalogue_size():
    assert len(CASES) >= 25 + 100


# ------------------------------------------------------------ what must still work
def _optional_given():
    for cid, build in CALLS_BY_ID.items():
        given = [n for n in build("cpu").optional() if n in CALLS_BY_ID[cid]("cpu").kwargs]
        if given:
            yield pytest.param(cid, given, id=f"{cid}-{'-'.join(given)}")


@pytest.mark.parametrize("cid, names", list(_optional_given()))
def test_optional_tensors_accept_none(cid, names, device):
    """None for an optional tensor runs on the eager path and writes the
    outputs still given (qk_rmsnorm without outputs: q and k, in place)."""
    call = CALLS_BY_ID[cid](device)
    call.kwargs.update(dict.fromkeys(names, None))
    written = [w for w in call.writes if call.kwargs[w] is not None]
    if call.public == "qk_rmsnorm" and not written:
        written = ["q", "k"]
    before = {k: call.kwargs[k].clone() for k in written}
    result, events = _run_profiled(call)
    assert _took_eager_path(call, events), sorted(events)
    if not call.writes:  # returns a new output
        assert result.shape == call.kwargs["input"].shape and bool(torch.isfinite(result).all())
    for k in written:
        assert not same_bits(before[k], call.kwargs[k]), f"'{k}' was not written"
