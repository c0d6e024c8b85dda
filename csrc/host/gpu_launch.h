#pragma once
#include <torch/types.h>

#include "../include/norm_params.h"

namespace aiter {
// True when this build has a GPU backend.
bool gpu_backend_available();
// Launches the row-norm kernels on `like`'s device and current stream.
void launch_row_norm_gpu(const NormParams& p, const at::Tensor& like, const char* op);
// The kernels' encoders over a float32 GPU tensor: its bytes in format q.
at::Tensor quantize_bytes_gpu(const at::Tensor& x, QuantType q);
}  // namespace aiter
