// The per-row arithmetic every backend shares. `Round` rounds an fp32 value
// through the storage dtype and back (identity for fp32); backends pass their
// own so the same formulas run on the CPU and the GPU.
#pragma once
#include "row_layout.h"

namespace aiter {

AITER_HD float inv_rms(float sum_squares, int64_t hidden, float epsilon) {
  // A multiply by 1/hidden (hoisted out of the kernels' row loops) instead
  // of a division per row; the mean differs by at most an ulp.
  const float mean = sum_squares * (1.0f / static_cast<float>(hidden));
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  return rsqrtf(mean + epsilon);
#else
  return 1.0f / __builtin_sqrtf(mean + epsilon);
#endif
}

// The normalised, weighted value of one element, before the final rounding to
// the output dtype.
template <typename Round>
AITER_HD float scale_element(float x, float inv, float w, int gemma, int model_sensitive,
                             Round round) {
  const float gain = gemma ? 1.0f + w : w;
  if (model_sensitive) return round(x * inv) * gain;
  return x * inv * gain;
}

}  // namespace aiter
