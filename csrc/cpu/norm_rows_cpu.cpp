#include "norm_rows_cpu.h"

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "../include/norm_math.h"

namespace aiter {
namespace {

// c10's conversions round to nearest even, like the GPU intrinsics.
template <typename T>
struct RoundTo {
  float operator()(float v) const { return static_cast<float>(static_cast<T>(v)); }
};

// Two passes per row, like the kernels' streamed path: sum of squares (and the
// residual store for the fused add), then the weighted output. Each element
// is read before the same position is written, so exact in-place use works.
template <typename T, NormVariant VARIANT>
void norm_rows_typed(const NormParams& p) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(p.hidden, 1));
  at::parallel_for(0, p.rows, grain, [&](int64_t begin, int64_t end) {
    const T* weight = static_cast<const T*>(p.weight);
    for (int64_t row = begin; row < end; ++row) {
      const T* in = static_cast<const T*>(p.input) + row_offset(p.input_rows, row);
      T* out = static_cast<T*>(p.out) + row_offset(p.out_rows, row);
      const T* source = in;  // what the norm is taken over
      double ss = 0.0;  // double: a sequential fp32 sum drifts at hidden ~1e6
      if constexpr (VARIANT == NormVariant::kAddRms) {
        const T* res = static_cast<const T*>(p.residual_in) + row_offset(p.residual_in_rows, row);
        T* res_out = static_cast<T*>(p.residual_out) + row_offset(p.residual_out_rows, row);
        for (int64_t i = 0; i < p.hidden; ++i) {
          const T sum = static_cast<T>(static_cast<float>(in[i]) + static_cast<float>(res[i]));
          res_out[i] = sum;
          const float f = static_cast<float>(sum);
          ss += static_cast<double>(f) * f;
        }
        source = res_out;
      } else {
        for (int64_t i = 0; i < p.hidden; ++i) {
          const float f = static_cast<float>(in[i]);
          ss += static_cast<double>(f) * f;
        }
      }
      const float inv = inv_rms(static_cast<float>(ss), p.hidden, p.epsilon);
      for (int64_t i = 0; i < p.hidden; ++i) {
        const float w = static_cast<float>(weight[i * p.weight_stride]);
        out[i] = static_cast<T>(scale_element(static_cast<float>(source[i]), inv, w, p.gemma,
                                              p.model_sensitive, RoundTo<T>()));
      }
    }
  });
}

template <typename T>
void norm_rows_for_dtype(const NormParams& p) {
  if (p.variant == NormVariant::kAddRms)
    norm_rows_typed<T, NormVariant::kAddRms>(p);
  else
    norm_rows_typed<T, NormVariant::kRms>(p);
}

}  // namespace

void norm_rows_cpu(const NormParams& p) {
  switch (p.dtype) {
    case DType::kFloat32: return norm_rows_for_dtype<float>(p);
    case DType::kFloat16: return norm_rows_for_dtype<c10::Half>(p);
    case DType::kBFloat16: return norm_rows_for_dtype<c10::BFloat16>(p);
  }
}

}  // namespace aiter
