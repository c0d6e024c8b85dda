// Instantiates the plain, fused-add and two-job (Q/K) RMSNorm kernels for one dtype (one
// translation unit per dtype and family keeps parallel builds short).
#include "norm_rows_kernel.cuh"

namespace aiter {
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_bf16, kRms)
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_bf16, kAddRms)
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_bf16, kQkRms)
}  // namespace aiter
