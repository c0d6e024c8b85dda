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
