// Instantiates the LayerNorm kernels (plain, fused add, and both quantised)
// for one dtype.
#include "norm_rows_kernel.cuh"

namespace aiter {
AITER_INSTANTIATE_VARIANT_LAUNCH(float, kLayer)
AITER_INSTANTIATE_VARIANT_LAUNCH(float, kAddLayer)
AITER_INSTANTIATE_VARIANT_LAUNCH(float, kLayerQuant)
AITER_INSTANTIATE_VARIANT_LAUNCH(float, kAddLayerQuant)
}  // namespace aiter
