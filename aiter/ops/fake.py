"""Fake (meta) implementations of the torch.library ops, so torch.compile and
CUDA-graph capture can trace them. The ops only write into caller buffers."""
import torch


@torch.library.register_fake("aiter::rmsnorm")
def _rmsnorm_fake(out, input, weight, epsilon, gemma_norm=False, use_model_sensitive_rmsnorm=0):
    return None


@torch.library.register_fake("aiter::add_rmsnorm")
def _add_rmsnorm_fake(
    out, input, residual_in, residual_out, weight, epsilon, gemma_norm=False, use_model_sensitive_rmsnorm=0
):
    return None


@torch.library.register_fake("aiter::fused_add_rmsnorm_")
def _fused_add_rmsnorm_fake(input, residual, weight, epsilon, gemma_norm=False, use_model_sensitive_rmsnorm=0):
    return None


@torch.library.register_fake("aiter::rmsnorm_quant")
def _rmsnorm_quant_fake(out, input, yscale, weight, epsilon, xscale=None, out_before_quant=None, group_size=0,
                        shuffle_scale=False, gemma_norm=False, use_model_sensitive_rmsnorm=0):
    return None


@torch.library.register_fake("aiter::add_rmsnorm_quant")
def _add_rmsnorm_quant_fake(out, input, residual_in, residual_out, yscale, weight, epsilon, xscale=None,
                            out_before_quant=None, group_size=0, shuffle_scale=False, gemma_norm=False,
                            use_model_sensitive_rmsnorm=0):
    return None


@torch.library.register_fake("aiter::layernorm")
def _layernorm_fake(out, input, weight, bias, epsilon, x_bias=None):
    return None


@torch.library.register_fake("aiter::add_layernorm")
def _add_layernorm_fake(out, input, residual_in, residual_out, weight, bias, epsilon, x_bias=None):
    return None


@torch.library.register_fake("aiter::layernorm_quant")
def _layernorm_quant_fake(out, input, yscale, weight, bias, epsilon, xscale=None, x_bias=None):
    return None


@torch.library.register_fake("aiter::add_layernorm_quant")
def _add_layernorm_quant_fake(out, input, residual_in, residual_out, yscale, weight, bias, epsilon, xscale=None,
                              x_bias=None):
    return None


@torch.library.register_fake("aiter::qk_rmsnorm")
def _qk_rmsnorm_fake(q_out, q, q_weight, k_out, k, k_weight, epsilon):
    return None


@torch.library.register_fake("aiter::qk_rmsnorm_")
def _qk_rmsnorm_inplace_fake(q, k, q_weight, k_weight, epsilon):
    return None
