// Instantiates the LayerNorm kernels (plain, fused add, and both quantised)
// for one dtype.
#include "norm_rows_kernel.cuh"

namespace aiter {
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_half, kLayer)
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_half, kAddLayer)
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_half, kLayerQuant)
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_half, kAddLayerQuant)
}  // namespace aiter
