// Entry point the host launcher calls: picks the dtype's instantiation.
#include "norm_rows_launch.h"
#include "norm_rows_kernel.cuh"

namespace aiter {

extern template int launch_norm_rows_typed<float>(const NormParams&, const LaunchConfig&, int, compat_stream_t);
extern template int launch_norm_rows_typed<compat_half>(const NormParams&, const LaunchConfig&, int, compat_stream_t);
extern template int launch_norm_rows_typed<compat_bf16>(const NormParams&, const LaunchConfig&, int, compat_stream_t);

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
