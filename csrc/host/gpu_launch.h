#pragma once
#include <torch/types.h>

#include <string>

#include "../include/norm_params.h"
#include "launch_policy.h"

namespace aiter {
// True when this build has a GPU backend.
bool gpu_backend_available();
// Launches the row-norm kernels on `like`'s device and current stream.
void launch_row_norm_gpu(const NormParams& p, const at::Tensor& like, const char* op);
// The device's properties, its name (gfx arch on ROCm) and the launch policy
// in force for it (launch_policy.h), as the launcher sees them.
DeviceProps gpu_device_props(int device);
std::string gpu_device_name(int device);
ResolvedTarget gpu_launch_target(int device);
// The kernels' encoders over a float32 GPU tensor: its bytes in format q.
at::Tensor quantize_bytes_gpu(const at::Tensor& x, QuantType q);
}  // namespace aiter
