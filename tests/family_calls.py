"""One valid call of every public op (several for ops with options), by
keyword, for tests that vary how a call is made: its route (eager entry or
dispatcher) or its argument types. Inputs are seeded, so two builds of a call
hold bitwise the same values; written buffers start as a sentinel, so a call
that writes nothing shows."""
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import torch

import aiter

EPS = 1e-6
H = 64  # hidden (head_dim 16 for the Q/K calls)
F32, F16, BF16 = torch.float32, torch.float16, torch.bfloat16
I8, FP8, FNUZ = torch.int8, torch.float8_e4m3fn, torch.float8_e4m3fnuz

# Tensor arguments each public op accepts as None (LayerNorm's weight and
# bias mean 1 and 0; q_out and k_out go together).
OPTIONAL = {
    "layer_norm": ("weight", "bias", "x_bias"),
    "layernorm2d_fwd": ("weight", "bias", "x_bias"),
    "layernorm2d_fwd_with_add": ("weight", "bias", "x_bias"),
    "layernorm2d_fwd_with_smoothquant": ("weight", "bias", "x_bias"),
    "layernorm2d_fwd_with_add_smoothquant": ("weight", "bias", "x_bias"),
    "rmsnorm2d_fwd_with_add_smoothquant": ("out_before_quant",),
    "rmsnorm2d_fwd_with_add_smoothquant_opus": ("out_before_quant",),
    "qk_rmsnorm": ("q_out", "k_out"),
    "fused_qk_rmsnorm": ("q_out_quantized", "q_out_unquantized"),  # with QuantType.No
    "fused_qk_rmsnorm_per_token_quant": ("q_out_unquantized",),
    "fused_qk_rmsnorm_group_quant": ("q_out_unquantized",),
}
# Tensor arguments that may be None in some calls only (the fused Q/K ops:
# k_out and k_weight go with k, q_res_out with q_residual, q_out_quantized
# with q_out_scale; without q_out_scale Q is not quantised): None for them is
# tested by explicit cases (test_fused_qk_rmsnorm.py), not by the generic ones.
_QK_CONDITIONAL = ("q_out_quantized", "k", "k_out", "k_weight", "q_residual", "q_res_out")
CONDITIONAL = {
    "fused_qk_rmsnorm": _QK_CONDITIONAL + ("q_out_scale",),
    "fused_qk_rmsnorm_per_token_quant": _QK_CONDITIONAL,
    "fused_qk_rmsnorm_group_quant": _QK_CONDITIONAL + ("q_out_scale",),
}


@dataclass
class Call:
    fn: Callable
    kwargs: Dict[str, object]
    op: str  # the registered op it runs: torch.ops.aiter.<op>
    writes: Tuple[str, ...]  # the arguments it writes (in place)
    optional_args: Optional[Tuple[str, ...]] = None  # this call's own OPTIONAL entry (its mode decides)

    @property
    def public(self) -> str:
        return self.fn.__name__

    def run(self):
        return self.fn(**self.kwargs)

    def tensors(self) -> Dict[str, torch.Tensor]:
        return {k: v for k, v in self.kwargs.items() if isinstance(v, torch.Tensor)}

    def optional(self) -> Tuple[str, ...]:
        if self.optional_args is not None:
            return self.optional_args
        return OPTIONAL.get(self.public, ())

    def conditional(self) -> Tuple[str, ...]:
        return CONDITIONAL.get(self.public, ())


class _Make:
    def __init__(self, device, seed):
        self.device = device
        self.gen = torch.Generator().manual_seed(seed)

    def rand(self, *shape, dtype=BF16):
        return torch.randn(shape, generator=self.gen).to(dtype).to(self.device)

    def sentinel(self, *shape, dtype=BF16):
        return torch.full(shape, 5.0).to(dtype).to(self.device)

    def scale(self, *shape):
        return torch.full(shape, -1.0, device=self.device)

    def xscale(self):
        return (torch.rand(H, generator=self.gen) + 0.5).to(self.device)


CALLS: Dict[str, Callable[[str], Call]] = {}


def call(cid):
    def deco(builder):
        CALLS[cid] = lambda device: builder(_Make(device, sum(map(ord, cid))))
        return builder

    return deco


# ------------------------------------------------------------ RMSNorm
@call("rms_norm")
def _(m):
    return Call(aiter.rms_norm, dict(input=m.rand(4, H), weight=m.rand(H), epsilon=EPS), "rmsnorm", ())


@call("rmsnorm2d_fwd-model-sensitive")
def _(m):
    kw = dict(input=m.rand(2, 3, H, dtype=F16), weight=m.rand(H, dtype=F16), epsilon=EPS,
              use_model_sensitive_rmsnorm=1)
    return Call(aiter.rmsnorm2d_fwd, kw, "rmsnorm", ())


@call("rms_norm_cu-row-strided")
def _(m):
    kw = dict(out=m.sentinel(4, H, dtype=F32), input=m.rand(4, 2 * H, dtype=F32)[:, :H], weight=m.rand(H, dtype=F32),
              epsilon=EPS)
    return Call(aiter.rms_norm_cu, kw, "rmsnorm", ("out",))


@call("rmsnorm-gemma")
def _(m):
    kw = dict(out=m.sentinel(4, H), input=m.rand(4, H), weight=m.rand(H), epsilon=EPS, gemma_norm=True)
    return Call(aiter.rmsnorm, kw, "rmsnorm", ("out",))


@call("add_rmsnorm")
def _(m):
    kw = dict(out=m.sentinel(4, H), input=m.rand(4, H), residual_in=m.rand(4, H), residual_out=m.sentinel(4, H),
              weight=m.rand(H), epsilon=EPS)
    return Call(aiter.add_rmsnorm, kw, "add_rmsnorm", ("out", "residual_out"))


@call("rmsnorm2d_fwd_with_add")
def _(m):
    kw = dict(out=m.sentinel(4, H, dtype=F16), input=m.rand(4, H, dtype=F16), residual_in=m.rand(4, H, dtype=F16),
              residual_out=m.sentinel(4, H, dtype=F16), weight=m.rand(H, dtype=F16), epsilon=EPS)
    return Call(aiter.rmsnorm2d_fwd_with_add, kw, "add_rmsnorm", ("out", "residual_out"))


@call("fused_add_rms_norm_cu")
def _(m):
    kw = dict(input=m.rand(4, H), residual_in=m.rand(4, H), weight=m.rand(H), epsilon=EPS)
    return Call(aiter.fused_add_rms_norm_cu, kw, "fused_add_rmsnorm_", ("input", "residual_in"))


# ------------------------------------------------------------ quantised RMSNorm
def _quant(m, fn, qdtype=I8, lead=(4,), dtype=BF16, groups=1, add=False, scale="yscale", **options):
    """out (qdtype) and a scale per row (or group) of rows shaped lead + (H,);
    add: the residual pair too; options: the rest (xscale, group_size, ...)."""
    kw = dict(out=m.sentinel(*lead, H, dtype=qdtype), input=m.rand(*lead, H, dtype=dtype))
    if add:
        kw.update(residual_in=m.rand(*lead, H, dtype=dtype), residual_out=m.sentinel(*lead, H, dtype=dtype))
    kw.update({scale: m.scale(*lead, groups)}, weight=m.rand(H, dtype=dtype), epsilon=EPS, **options)
    writes = ("out",) + (("residual_out",) if add else ()) + (scale,)
    writes += ("out_before_quant",) if options.get("out_before_quant") is not None else ()
    return Call(fn, kw, "add_rmsnorm_quant" if add else "rmsnorm_quant", writes)


@call("dynamicquant-int8")
def _(m):
    return _quant(m, aiter.rmsnorm2d_fwd_with_dynamicquant)


@call("dynamicquant-group-shuffle-fp8")
def _(m):
    return _quant(m, aiter.rmsnorm2d_fwd_with_dynamicquant, FP8, groups=4, group_size=16, shuffle_scale=True)


@call("dynamicquant-model-sensitive-fnuz")
def _(m):
    return _quant(m, aiter.rmsnorm2d_fwd_with_dynamicquant, FNUZ, (2, 3), F16, use_model_sensitive_rmsnorm=1)


@call("add_dynamicquant-group")
def _(m):
    return _quant(m, aiter.rmsnorm2d_fwd_with_add_dynamicquant, groups=2, add=True, group_size=32)


@call("smoothquant")
def _(m):
    return _quant(m, aiter.rmsnorm2d_fwd_with_smoothquant, xscale=m.xscale())


@call("add_smoothquant-out_before_quant")
def _(m):
    return _quant(m, aiter.rmsnorm2d_fwd_with_add_smoothquant, FP8, add=True, xscale=m.xscale(),
                  out_before_quant=m.sentinel(4, H))


@call("add_smoothquant")
def _(m):
    return _quant(m, aiter.rmsnorm2d_fwd_with_add_smoothquant, dtype=F32, add=True, xscale=m.xscale())


@call("rmsnorm_quant-gemma-group")
def _(m):
    return _quant(m, aiter.rmsnorm_quant, groups=4, scale="scale", group_size=16, gemma_norm=True)


@call("add_rmsnorm_quant-shuffle")
def _(m):
    return _quant(m, aiter.add_rmsnorm_quant, FP8, groups=2, add=True, scale="scale", group_size=32,
                  shuffle_scale=True)


# ------------------------------------------------------------ LayerNorm
@call("layer_norm-bare")
def _(m):
    return Call(aiter.layer_norm, dict(input=m.rand(4, H)), "layernorm", ())


@call("layer_norm-x_bias")
def _(m):
    kw = dict(input=m.rand(2, 3, H, dtype=F16), weight=m.rand(H, dtype=F16), bias=m.rand(H, dtype=F16),
              epsilon=1e-5, x_bias=m.rand(H, dtype=F16))
    return Call(aiter.layer_norm, kw, "layernorm", ())


@call("layernorm2d_fwd")
def _(m):
    kw = dict(input=m.rand(4, 2 * H, dtype=F32)[:, H:], weight=m.rand(H, dtype=F32), bias=m.rand(H, dtype=F32))
    return Call(aiter.layernorm2d_fwd, kw, "layernorm", ())


@call("layernorm2d_fwd_with_add-x_bias")
def _(m):
    kw = dict(out=m.sentinel(4, H), input=m.rand(4, H), residual_in=m.rand(4, H), residual_out=m.sentinel(4, H),
              weight=m.rand(H), bias=m.rand(H), epsilon=1e-5, x_bias=m.rand(H))
    return Call(aiter.layernorm2d_fwd_with_add, kw, "add_layernorm", ("out", "residual_out"))


@call("layernorm2d_fwd_with_smoothquant")
def _(m):
    kw = dict(out=m.sentinel(4, H, dtype=I8), input=m.rand(4, H), xscale=m.xscale(), yscale=m.scale(4, 1),
              weight=m.rand(H), bias=m.rand(H), epsilon=1e-5, x_bias=m.rand(H))
    return Call(aiter.layernorm2d_fwd_with_smoothquant, kw, "layernorm_quant", ("out", "yscale"))


@call("layernorm2d_fwd_with_add_smoothquant")
def _(m):
    kw = dict(out=m.sentinel(4, H, dtype=FP8), input=m.rand(4, H, dtype=F16), residual_in=m.rand(4, H, dtype=F16),
              residual_out=m.sentinel(4, H, dtype=F16), xscale=m.xscale(), yscale=m.scale(4),
              weight=m.rand(H, dtype=F16), bias=m.rand(H, dtype=F16), epsilon=1e-5)
    return Call(aiter.layernorm2d_fwd_with_add_smoothquant, kw, "add_layernorm_quant",
                ("out", "residual_out", "yscale"))


# ------------------------------------------------------------ fused Q/K
def _qk(m, t=3, hq=4, hk=2, hv=2, d=16):
    qkv = m.rand(t, (hq + hk + hv) * d)
    return qkv[:, : hq * d].view(t, hq, d), qkv[:, hq * d : (hq + hk) * d].view(t, hk, d)


@call("qk_rmsnorm-in-place")
def _(m):
    q, k = _qk(m)
    kw = dict(q=q, k=k, q_weight=m.rand(16), k_weight=m.rand(16), epsilon=EPS)
    return Call(aiter.qk_rmsnorm, kw, "qk_rmsnorm_", ("q", "k"))


@call("qk_rmsnorm-out-of-place")
def _(m):
    q, k = _qk(m)
    kw = dict(q=q, k=k, q_weight=m.rand(16), k_weight=m.rand(16), epsilon=EPS, q_out=m.sentinel(3, 4, 16),
              k_out=m.sentinel(3, 2, 16))
    return Call(aiter.qk_rmsnorm, kw, "qk_rmsnorm", ("q_out", "k_out"))


# ------------------------------------------------------------ upstream's *_opus names
@call("rms_norm_opus-gemma-model-sensitive")
def _(m):
    kw = dict(out=m.sentinel(4, H, dtype=F16), input=m.rand(4, 2 * H, dtype=F16)[:, H:], weight=m.rand(H, dtype=F16),
              epsilon=EPS, model_sensitive=1, gemma_norm=True)
    return Call(aiter.rms_norm_opus, kw, "rmsnorm", ("out",))


@call("fused_add_rms_norm_opus")
def _(m):
    kw = dict(input=m.rand(2, 3, H), residual=m.rand(2, 3, H), weight=m.rand(H), epsilon=EPS, gemma_norm=True)
    return Call(aiter.fused_add_rms_norm_opus, kw, "fused_add_rmsnorm_", ("input", "residual"))


@call("rmsnorm2d_fwd_opus")
def _(m):
    kw = dict(input=m.rand(4, H, dtype=F32), weight=m.rand(H, dtype=F32), epsilon=EPS)
    return Call(aiter.rmsnorm2d_fwd_opus, kw, "rmsnorm", ())


@call("rmsnorm2d_fwd_with_add_opus")
def _(m):
    kw = dict(out=m.sentinel(4, H), input=m.rand(4, H), residual_in=m.rand(4, H), residual_out=m.sentinel(4, H),
              weight=m.rand(H), epsilon=EPS, use_model_sensitive_rmsnorm=1, gemma_norm=True)
    return Call(aiter.rmsnorm2d_fwd_with_add_opus, kw, "add_rmsnorm", ("out", "residual_out"))


@call("dynamicquant_opus")
def _(m):
    return _quant(m, aiter.rmsnorm2d_fwd_with_dynamicquant_opus, FP8)


@call("smoothquant_opus")
def _(m):
    return _quant(m, aiter.rmsnorm2d_fwd_with_smoothquant_opus, xscale=m.xscale(), use_model_sensitive_rmsnorm=1)


@call("add_dynamicquant_opus")
def _(m):
    return _quant(m, aiter.rmsnorm2d_fwd_with_add_dynamicquant_opus, FNUZ, (2, 2), F16, add=True)


@call("add_smoothquant_opus-out_before_quant")
def _(m):
    return _quant(m, aiter.rmsnorm2d_fwd_with_add_smoothquant_opus, add=True, xscale=m.xscale(),
                  out_before_quant=m.sentinel(4, H))


# ------------------------------------------------------------ upstream's fused Q/K
DQ, DK = 64, 32  # Q and K head sizes differ, as in upstream's test


def _packed(m, t=3, hq=2, hk=2, dtype=BF16):
    """Q (t, hq, DQ) and K (t, hk, DK): slices of one packed buffer."""
    buf = m.rand(t, hq * DQ + hk * DK + 16, dtype=dtype)
    return buf[:, : hq * DQ].view(t, hq, DQ), buf[:, hq * DQ : hq * DQ + hk * DK].view(t, hk, DK)


@call("fused_qk_rmsnorm-per_1x128-residual")
def _(m):
    q, k = _packed(m, hq=4, dtype=F16)
    q, k = q.reshape(3, 4 * DQ), k.reshape(3, 2 * DK)  # a 256-wide Q row: two groups of 128
    kw = dict(q_out_quantized=m.sentinel(3, 4 * DQ, dtype=I8), q_out_scale=m.scale(3, 2), q=q,
              q_weight=m.rand(4 * DQ, dtype=F16), q_epsilon=EPS, k_out=m.sentinel(3, 2 * DK, dtype=F16),
              q_res_out=m.sentinel(3, 4 * DQ, dtype=F16), k=k, k_weight=m.rand(2 * DK, dtype=F16),
              q_residual=m.rand(3, 4 * DQ, dtype=F16), quant_type=aiter.QuantType.per_1x128)
    return Call(aiter.fused_qk_rmsnorm, kw, "fused_qk_rmsnorm", ("q_out_quantized", "q_out_scale", "k_out", "q_res_out"),
                optional_args=())


@call("fused_qk_rmsnorm-no-quant")
def _(m):
    q, k = _packed(m)
    kw = dict(q_out_quantized=m.sentinel(3, 2, DQ), q=q, q_weight=m.rand(DQ), q_epsilon=EPS, k_out=m.sentinel(3, 2, DK),
              k=k, k_weight=m.rand(DK), k_epsilon=1e-5)
    return Call(aiter.fused_qk_rmsnorm, kw, "fused_qk_rmsnorm", ("q_out_quantized", "k_out"))


@call("fused_qk_rmsnorm-one-launch-gemma")
def _(m):
    buf = m.rand(3, 4, 2 * DQ, dtype=F16)
    q, k = buf[..., :DQ], buf[..., DQ:]
    kw = dict(q_out_quantized=m.sentinel(3, 4, DQ, dtype=F16), q=q, q_weight=m.rand(DQ, dtype=F16), q_epsilon=EPS,
              k_out=m.sentinel(3, 4, DQ, dtype=F16), k=k, k_weight=m.rand(DQ, dtype=F16), gemma_norm=True)
    return Call(aiter.fused_qk_rmsnorm, kw, "fused_qk_rmsnorm", ("q_out_quantized", "k_out"))


@call("fused_qk_rmsnorm_per_token_quant-residual")
def _(m):
    q, k = _packed(m)
    kw = dict(q_out_quantized=m.sentinel(3, 2, DQ, dtype=FP8), q_out_scale=m.scale(6, 1), q=q, q_weight=m.rand(DQ),
              q_epsilon=EPS, q_out_unquantized=m.sentinel(3, 2, DQ), k_out=m.sentinel(3, 2, DK),
              q_res_out=m.sentinel(3, 2, DQ), k=k, k_weight=m.rand(DK), q_residual=m.rand(3, 2, DQ), gemma_norm=True)
    return Call(aiter.fused_qk_rmsnorm_per_token_quant, kw, "fused_qk_rmsnorm",
                ("q_out_quantized", "q_out_scale", "q_out_unquantized", "k_out", "q_res_out"))


@call("fused_qk_rmsnorm_group_quant-transpose-scale")
def _(m):
    q, k = _packed(m)
    kw = dict(q_out_quantized=m.sentinel(3, 2, DQ, dtype=FP8), q_out_scale=m.scale(6, DQ // 16), q=q,
              q_weight=m.rand(DQ), q_epsilon=EPS, q_out_unquantized=m.sentinel(3, 2, DQ), k_out=m.sentinel(3, 2, DK),
              k=k, k_weight=m.rand(DK), group_size=16, transpose_scale=True)
    return Call(aiter.fused_qk_rmsnorm_group_quant, kw, "fused_qk_rmsnorm",
                ("q_out_quantized", "q_out_scale", "q_out_unquantized", "k_out"))


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality (fp8 included), shapes and dtypes too."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return torch.equal(a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8))
