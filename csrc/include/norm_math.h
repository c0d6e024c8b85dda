// The per-row arithmetic every backend shares. `Round` rounds an fp32 value
// through the storage dtype and back (identity for fp32); backends pass their
// own so the same formulas run on the CPU and the GPU.
#pragma once
#include <math.h>

#include "row_layout.h"

namespace aiter {

// 1 / sqrt(mean of `sum_squares` over hidden + epsilon): the RMSNorm factor,
// and the LayerNorm one when the squares are of deviations from the mean.
// The mean is a multiply by NormParams::inv_hidden (1 / hidden in fp32, set
// once on the host), within an ulp of the division: a division was ~10
// instructions and a slow-path branch on every row of a decode launch.
AITER_HD float inv_rms(float sum_squares, float inv_hidden, float epsilon) {
  const float mean = sum_squares * inv_hidden;
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

// LayerNorm's value of one element: (x - mean) * inv_std * w + b.
AITER_HD float layer_element(float x, float mean, float inv_std, float w, float b) {
  return (x - mean) * inv_std * w + b;
}

// Dynamic quantisation: the scale stored for a row (or group) whose largest
// magnitude is `amax`, and the factor its values are multiplied by before
// rounding (0 for an all-zero row, whose scale is 0). The scale is amax times
// the fp32 reciprocal of the format's max (NormParams::inv_qmax), within an
// ulp of amax / qmax: the per-group kernels take one scale per 16-byte chunk,
// and a division there was ~10 instructions of an issue-bound loop.
AITER_HD float dynamic_scale(float amax, float inv_qmax) { return amax * inv_qmax; }
AITER_HD float inverse_scale(float scale) { return scale > 0.0f ? 1.0f / scale : 0.0f; }

// RMSNorm's y = x * inv * gain [* xscale] is inv (> 0) times a value known
// before the row's reduction, so max |y| = inv * max |x * gain [* xscale]|:
// a per-row quant scale comes out of the first pass, without a max pass over
// recomputed outputs. `prenorm_element` is that value without the xscale
// (callers multiply it in, as for y); the scale differs from max|y| * inv_qmax
// by a few ulps. Not for LayerNorm, model_sensitive (x * inv is rounded
// before the gain) or per-group scales (see max_folds_into_first_pass).
AITER_HD float prenorm_element(float x, float w, int gemma) { return x * (gemma ? 1.0f + w : w); }
AITER_HD float folded_row_scale(float prenorm_amax, float inv, float inv_qmax) {
  return dynamic_scale(prenorm_amax * inv, inv_qmax);
}
// With the max folded, what is quantised is x * gain [* xscale] times this
// factor (y * inverse_scale up to rounding): one multiply per element where
// y * inv, * gain, * inverse_scale took three. out_before_quant is then
// x * gain [* xscale] * inv.
AITER_HD float folded_quant_factor(float inv, float inv_scale) { return inv * inv_scale; }

// fmaxf ignores a NaN operand, so a NaN |v| is ignored; on the GPU this is
// one max instruction with an |abs| operand.
AITER_HD float abs_max(float a, float v) { return fmaxf(a, fabsf(v)); }

}  // namespace aiter
