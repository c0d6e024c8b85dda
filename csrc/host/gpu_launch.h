#pragma once
#include <torch/types.h>

#include "../include/norm_params.h"

namespace aiter {
// True when this build has a GPU backend.
bool gpu_backend_available();
// Launches the row-norm kernels on `like`'s device and current stream.
void launch_row_norm_gpu(const NormParams& p, const at::Tensor& like, const char* op);
}  // namespace aiter
