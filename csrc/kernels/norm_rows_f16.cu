// Instantiates the plain, fused-add and two-job (Q/K) RMSNorm kernels for one dtype (one
// translation unit per dtype and family keeps parallel builds short).
#include "norm_rows_kernel.cuh"

namespace aiter {
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_half, kRms)
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_half, kAddRms)
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_half, kQkRms)
}  // namespace aiter
