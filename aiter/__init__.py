"""aiter normalization ops, stride-aware: a drop-in for upstream aiter's
RMSNorm, quantised RMSNorm, LayerNorm and fused Q/K RMSNorm entry points
(plus qk_rmsnorm of our own) that reads strided views (e.g. Q/K slices of a
packed QKV projection) in place. Also upstream's helpers that its norm tests
and callers import: dtypes, QuantType, get_gfx, get_torch_quant,
pertoken_quant, logger (and aiter.test_common, aiter.utility.fp4_utils)."""
from ._backend import _C
from .log import logger
from .ops import fake as _fake  # noqa: F401  (registers the fake implementations)
from .ops.enum import QuantType
from .ops.torch_quant import get_dtype_max, get_torch_quant, per_tensor_quant, pertoken_quant
from .utility import dtypes
from .utility.chip_info import get_gfx
from .ops.rmsnorm import (
    add_rmsnorm,
    fused_add_rms_norm_cu,
    rms_norm,
    rms_norm_cu,
    rmsnorm,
    rmsnorm2d_fwd,
    rmsnorm2d_fwd_with_add,
)
from .ops.quant import (
    add_rmsnorm_quant,
    rmsnorm2d_fwd_with_add_dynamicquant,
    rmsnorm2d_fwd_with_add_smoothquant,
    rmsnorm2d_fwd_with_dynamicquant,
    rmsnorm2d_fwd_with_smoothquant,
    rmsnorm_quant,
)
from .ops.norm import (
    layer_norm,
    layernorm2d_fwd,
    layernorm2d_fwd_with_add,
    layernorm2d_fwd_with_add_smoothquant,
    layernorm2d_fwd_with_smoothquant,
)
from .ops.opus import (
    fused_add_rms_norm_opus,
    rms_norm_opus,
    rmsnorm2d_fwd_opus,
    rmsnorm2d_fwd_with_add_dynamicquant_opus,
    rmsnorm2d_fwd_with_add_opus,
    rmsnorm2d_fwd_with_add_smoothquant_opus,
    rmsnorm2d_fwd_with_dynamicquant_opus,
    rmsnorm2d_fwd_with_smoothquant_opus,
)
from .ops.fused_qk_rmsnorm_group_quant import (
    fused_qk_rmsnorm,
    fused_qk_rmsnorm_group_quant,
    fused_qk_rmsnorm_per_token_quant,
)
from .ops.qk_norm import qk_rmsnorm
from . import tuning

tuning.register()  # per-GPU launch tables (aiter/tuning/*.json); applied at a device's first launch

__version__ = "0.1.0+strided"


def gather_fallback_count() -> int:
    """Calls so far that gathered a view into a buffer instead of reading it in place."""
    return _C.gather_fallback_count()


def reset_gather_fallback_count() -> None:
    _C.reset_gather_fallback_count()


def set_strict_layout(strict: bool) -> None:
    """Strict mode: a call that would gather raises instead (also AITER_STRICT_LAYOUT=1)."""
    _C.set_strict_layout(bool(strict))


def strict_layout() -> bool:
    return _C.strict_layout()


def gpu_backend_available() -> bool:
    """True when this build carries the CUDA/HIP kernels."""
    return _C.gpu_backend_available()
