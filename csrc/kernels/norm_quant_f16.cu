// Instantiates the dynamic/smooth-quant RMSNorm kernels (plain and fused add)
// for one dtype.
#include "norm_rows_kernel.cuh"

namespace aiter {
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_half, kRmsQuant)
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_half, kAddRmsQuant)
}  // namespace aiter
