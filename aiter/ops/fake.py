"""Fake (meta) implementations of the torch.library ops, so torch.compile and
CUDA-graph capture can trace them. The ops only write into caller buffers.

A fake also runs when any argument is a meta tensor in eager code, so it
checks what it can see without data (devices, dtypes, shapes): a cpu/meta
mix is an error here just as a cpu/cuda mix is in the launcher."""
import torch


def _describe(t):
    return f"shape {list(t.shape)}, dtype {t.dtype}, device {t.device}"


def _check_like_input(op, input, **rows):
    """Each named tensor must have the input's shape, dtype and device."""
    for name, t in rows.items():
        if t.device != input.device:
            raise ValueError(f"aiter.{op}: argument '{name}' must be on the input's device {input.device} ({_describe(t)})")
        if t.dtype != input.dtype:
            raise TypeError(f"aiter.{op}: argument '{name}' must have the input's dtype {input.dtype} ({_describe(t)})")
        if t.shape != input.shape:
            raise ValueError(f"aiter.{op}: argument '{name}' must have the input's shape {list(input.shape)} ({_describe(t)})")


def _check_weight(op, weight, input):
    if weight.device != input.device:
        raise ValueError(f"aiter.{op}: argument 'weight' must be on the input's device {input.device} ({_describe(weight)})")
    if weight.dtype != input.dtype:
        raise TypeError(f"aiter.{op}: argument 'weight' must have the input's dtype {input.dtype} ({_describe(weight)})")
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
