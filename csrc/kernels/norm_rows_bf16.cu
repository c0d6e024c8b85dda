// Instantiates the row-norm kernels for one dtype (one translation unit per
// dtype keeps parallel builds short).
#include "norm_rows_kernel.cuh"

namespace aiter {
template int launch_norm_rows_typed<compat_bf16>(const NormParams&, const LaunchConfig&, int, compat_stream_t);
}  // namespace aiter
