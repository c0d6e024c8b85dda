// CPU implementation of the row norms, over the same NormParams / RowLayout as
// the GPU kernels.
#pragma once
#include "../include/norm_params.h"

namespace aiter {
void norm_rows_cpu(const NormParams& p);
}  // namespace aiter
