// Instantiates the LayerNorm kernels (plain, fused add, and both quantised)
// for one dtype.
#include "norm_rows_kernel.cuh"

namespace aiter {
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_bf16, kLayer)
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_bf16, kAddLayer)
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_bf16, kLayerQuant)
AITER_INSTANTIATE_VARIANT_LAUNCH(compat_bf16, kAddLayerQuant)
}  // namespace aiter
