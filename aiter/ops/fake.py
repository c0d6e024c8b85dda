"""Fake (meta) implementations of the torch.library ops, so torch.compile and
CUDA-graph capture can trace them. The ops only write into caller buffers.

A fake also runs when any argument is a meta tensor in eager code, so it
checks what it can see without data (devices, dtypes, shapes): a cpu/meta
mix is an error here just as a cpu/cuda mix is in the launcher."""
import torch


def _describe(t):
    return f"shape {list(t.shape)}, dtype {t.dtype}, device {t.device}"


def _check_same(op, input, name, t, shape=None):
    """t is on the input's device, has its dtype and (if given) the shape."""
    if t.device != input.device:
        raise ValueError(f"aiter.{op}: argument '{name}' must be on the input's device {input.device} ({_describe(t)})")
    if t.dtype != input.dtype:
        raise TypeError(f"aiter.{op}: argument '{name}' must have the input's dtype {input.dtype} ({_describe(t)})")
    if shape is not None and t.shape != shape:
        raise ValueError(f"aiter.{op}: argument '{name}' must have the input's shape {list(shape)} ({_describe(t)})")


def _check_like_input(op, input, **rows):
    """Each named tensor must have the input's shape, dtype and device."""
    for name, t in rows.items():
        _check_same(op, input, name, t, input.shape)


def _check_devices(op, input, **tensors):
    """Each named tensor that is given is on the input's device."""
    for name, t in tensors.items():
        if t is not None and t.device != input.device:
            raise ValueError(f"aiter.{op}: argument '{name}' must be on the input's device {input.device} ({_describe(t)})")


def _check_weight(op, weight, input):
    _check_same(op, input, "weight", weight)
    if input.dim() == 0 or weight.dim() != 1 or weight.shape[0] != input.shape[-1]:
        raise ValueError(f"aiter.{op}: argument 'weight' must be 1-d of length hidden ({_describe(weight)})")


@torch.library.register_fake("aiter::rmsnorm")
def _rmsnorm_fake(out, input, weight, epsilon, gemma_norm=False, use_model_sensitive_rmsnorm=0):
    _check_like_input("rmsnorm", input, out=out)
    _check_weight("rmsnorm", weight, input)


@torch.library.register_fake("aiter::add_rmsnorm")
def _add_rmsnorm_fake(
    out, input, residual_in, residual_out, weight, epsilon, gemma_norm=False, use_model_sensitive_rmsnorm=0
):
    _check_like_input("add_rmsnorm", input, out=out, residual_in=residual_in, residual_out=residual_out)
    _check_weight("add_rmsnorm", weight, input)


@torch.library.register_fake("aiter::fused_add_rmsnorm_")
def _fused_add_rmsnorm_fake(input, residual, weight, epsilon, gemma_norm=False, use_model_sensitive_rmsnorm=0):
    _check_like_input("fused_add_rms_norm_cu", input, residual=residual)
    _check_weight("fused_add_rms_norm_cu", weight, input)


@torch.library.register_fake("aiter::rmsnorm_quant")
def _rmsnorm_quant_fake(out, input, yscale, weight, epsilon, xscale=None, out_before_quant=None, group_size=0,
                        shuffle_scale=False, gemma_norm=False, use_model_sensitive_rmsnorm=0):
    _check_devices("rmsnorm_quant",
        input, out=out, yscale=yscale, weight=weight, xscale=xscale, out_before_quant=out_before_quant)


@torch.library.register_fake("aiter::add_rmsnorm_quant")
def _add_rmsnorm_quant_fake(out, input, residual_in, residual_out, yscale, weight, epsilon, xscale=None,
                            out_before_quant=None, group_size=0, shuffle_scale=False, gemma_norm=False,
                            use_model_sensitive_rmsnorm=0):
    _check_devices("add_rmsnorm_quant",
        input, out=out, residual_in=residual_in, residual_out=residual_out, yscale=yscale, weight=weight,
        xscale=xscale, out_before_quant=out_before_quant)


@torch.library.register_fake("aiter::layernorm")
def _layernorm_fake(out, input, weight, bias, epsilon, x_bias=None):
    _check_devices("layernorm", input, out=out, weight=weight, bias=bias, x_bias=x_bias)


@torch.library.register_fake("aiter::add_layernorm")
def _add_layernorm_fake(out, input, residual_in, residual_out, weight, bias, epsilon, x_bias=None):
    _check_devices("add_layernorm",
        input, out=out, residual_in=residual_in, residual_out=residual_out, weight=weight, bias=bias,
        x_bias=x_bias)


@torch.library.register_fake("aiter::layernorm_quant")
def _layernorm_quant_fake(out, input, yscale, weight, bias, epsilon, xscale=None, x_bias=None):
    _check_devices("layernorm_quant",
        input, out=out, yscale=yscale, weight=weight, bias=bias, xscale=xscale, x_bias=x_bias)


@torch.library.register_fake("aiter::add_layernorm_quant")
def _add_layernorm_quant_fake(out, input, residual_in, residual_out, yscale, weight, bias, epsilon, xscale=None,
                              x_bias=None):
    _check_devices("add_layernorm_quant",
        input, out=out, residual_in=residual_in, residual_out=residual_out, yscale=yscale, weight=weight,
        bias=bias, xscale=xscale, x_bias=x_bias)


@torch.library.register_fake("aiter::qk_rmsnorm")
def _qk_rmsnorm_fake(q_out, q, q_weight, k_out, k, k_weight, epsilon):
    _check_devices("qk_rmsnorm", q, q_out=q_out, q_weight=q_weight, k_out=k_out, k=k, k_weight=k_weight)


@torch.library.register_fake("aiter::qk_rmsnorm_")
def _qk_rmsnorm_inplace_fake(q, k, q_weight, k_weight, epsilon):
    _check_devices("qk_rmsnorm_", q, k=k, q_weight=q_weight, k_weight=k_weight)


@torch.library.register_fake("aiter::fused_qk_rmsnorm")
def _fused_qk_rmsnorm_fake(q_out_quantized, q_out_scale, q, q_weight, q_epsilon, q_out_unquantized, k_out,
                           q_res_out, k, k_weight, k_epsilon, q_residual, group_size=0, shuffle_scale=False,
                           gemma_norm=False):
    _check_devices("fused_qk_rmsnorm",
        q, q_out_quantized=q_out_quantized, q_out_scale=q_out_scale, q_weight=q_weight,
        q_out_unquantized=q_out_unquantized, k_out=k_out, q_res_out=q_res_out, k=k, k_weight=k_weight,
        q_residual=q_residual)
