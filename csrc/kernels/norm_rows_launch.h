// Host-side declaration of the GPU launcher (no CUDA/HIP types, so torch-side
// C++ can include it).
#pragma once
#include "../include/launch_config.h"

namespace aiter {
// Returns 0 on success, -1 for a configuration no kernel was built for.
// The grid is re-sized from the chosen kernel's real occupancy on `sm_count`
// SMs. Launch errors are read by the caller from the runtime afterwards.
int launch_norm_rows(const NormParams& p, const LaunchConfig& c, int sm_count, void* stream);
// The norm kernels' encoders over n floats (n a multiple of 8): the device
// half of _C.quantize_bytes. Returns -1 for an unsupported n or format.
int launch_quantize_bytes(const float* in, uint8_t* out, int64_t n, QuantType q, void* stream);
}  // namespace aiter
