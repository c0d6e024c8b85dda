// Entry point the host launcher calls: picks the dtype's instantiation. The
// kernels themselves are instantiated in the per-dtype, per-family files.
#include "norm_rows_launch.h"
#include "norm_rows_kernel.cuh"

namespace aiter {

#define AITER_DECLARE_ALL(V)                    \
  AITER_DECLARE_VARIANT_LAUNCH(float, V)        \
  AITER_DECLARE_VARIANT_LAUNCH(compat_half, V)  \
  AITER_DECLARE_VARIANT_LAUNCH(compat_bf16, V)
AITER_FOR_EACH_VARIANT(AITER_DECLARE_ALL)
#undef AITER_DECLARE_ALL

int launch_norm_rows(const NormParams& p, const LaunchConfig& c, int sm_count, void* stream) {
  const auto s = static_cast<compat_stream_t>(stream);
  switch (p.dtype) {
    case DType::kFloat32: return launch_norm_rows_typed<float>(p, c, sm_count, s);
    case DType::kFloat16: return launch_norm_rows_typed<compat_half>(p, c, sm_count, s);
    case DType::kBFloat16: return launch_norm_rows_typed<compat_bf16>(p, c, sm_count, s);
  }
  return -1;
}

}  // namespace aiter
