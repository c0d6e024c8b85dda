#include "norm_rows_cpu.h"

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <vector>

#include "../include/norm_math.h"
#include "../include/quant_convert.h"

namespace aiter {
namespace {

// c10's conversions round to nearest even, like the GPU intrinsics.
template <typename T>
struct RoundTo {
  float operator()(float v) const { return static_cast<float>(static_cast<T>(v)); }
};

template <typename T>
float param(const void* p, int64_t stride, int64_t i, float absent) {
  return p == nullptr ? absent : static_cast<float>(static_cast<const T*>(p)[i * stride]);
}

// The same passes as the kernels (norm_rows_kernel.cuh), selected by the same
// variant flags: prologue (input [+ x_bias] [+ residual_in], stored to
// residual_out), the statistics (sum of squares, or mean then squared
// deviations), then the epilogue (round and store, or quantise with a per-row
// or per-group scale). The row's prologue values are kept in a buffer, so
// every element is read before any output of the row is written (exact
// in-place use works).
template <typename T, NormVariant VARIANT>
void norm_rows_typed(const NormParams& p) {
  constexpr bool kAdd = variant_adds(VARIANT);
  constexpr bool kQuant = variant_quantizes(VARIANT);
  constexpr bool kLayer = variant_centers(VARIANT);
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(p.hidden, 1));
  at::parallel_for(0, p.rows, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> xs(p.hidden), ys(p.hidden), prenorm(p.hidden);
    for (int64_t row = begin; row < end; ++row) {
      const RowJob job = row_job(p, row);
      const T* in = static_cast<const T*>(job.input) + job.input_offset;
      const bool xb = kLayer && p.x_bias != nullptr;
      const T* res = kAdd ? static_cast<const T*>(p.residual_in) + row_offset(p.residual_in_rows, row) : nullptr;
      T* res_out = kAdd ? static_cast<T*>(p.residual_out) + row_offset(p.residual_out_rows, row) : nullptr;
      // Sums are accumulated in double here: a sequential fp32 sum loses ~n
      // ulps (the kernels' tree reductions lose ~log2(n)); at hidden 2**20
      // that was 5e-4 of the inverse rms.
      double sd = 0.0;
      for (int64_t i = 0; i < p.hidden; ++i) {
        float f = static_cast<float>(in[i]);
        if (kAdd || xb) {
          if (xb) f += param<T>(p.x_bias, p.x_bias_stride, i, 0.f);
          if (kAdd) f += static_cast<float>(res[i]);
          const T stored = static_cast<T>(f);
          if (kAdd) res_out[i] = stored;
          f = static_cast<float>(stored);
        }
        xs[i] = f;
        sd += kLayer ? static_cast<double>(f) : static_cast<double>(f) * f;
      }
      float mean = 0.f;
      if (kLayer) {
        mean = static_cast<float>(sd / static_cast<double>(p.hidden));
        sd = 0.0;
        for (int64_t i = 0; i < p.hidden; ++i) {
          const float d = xs[i] - mean;
          sd += static_cast<double>(d) * d;
        }
      }
      const float inv = inv_rms(static_cast<float>(sd), p.inv_hidden, p.epsilon);
      // The kernels' per-row quant max where it folds into their first pass.
      const bool fold_max = kQuant && max_folds_into_first_pass(p);
      float prenorm_max = 0.f;
      for (int64_t i = 0; i < p.hidden; ++i) {
        const float w = param<T>(job.weight, job.weight_stride, i, 1.f);
        const float xscale = kQuant && p.xscale != nullptr ? p.xscale[i * p.xscale_stride] : 1.f;
        float y = kLayer ? layer_element(xs[i], mean, inv, w, param<T>(p.bias, p.bias_stride, i, 0.f))
                         : scale_element(xs[i], inv, w, p.gemma, p.model_sensitive, RoundTo<T>());
        if (kQuant && p.xscale != nullptr) y *= xscale;
        ys[i] = y;
        if (fold_max) {
          prenorm[i] = prenorm_element(xs[i], w, p.gemma) * xscale;
          prenorm_max = abs_max(prenorm_max, prenorm[i]);
        }
      }
      if constexpr (!kQuant) {
        T* out = static_cast<T*>(job.out) + job.out_offset;
        for (int64_t i = 0; i < p.hidden; ++i) out[i] = static_cast<T>(ys[i]);
      } else {
        uint8_t* out = static_cast<uint8_t*>(job.out) + job.out_offset;
        T* unquant = p.unquant != nullptr ? static_cast<T*>(p.unquant) + row_offset(p.unquant_rows, row) : nullptr;
        float* yscale = p.yscale + row_offset(p.yscale_rows, row);
        const int64_t group = p.group_size > 0 ? p.group_size : p.hidden;
        for (int64_t g0 = 0; g0 < p.hidden; g0 += group) {
          float amax = 0.f;
          for (int64_t i = g0; i < g0 + group; ++i) amax = abs_max(amax, ys[i]);
          const float scale = fold_max ? folded_row_scale(prenorm_max, inv, p.inv_qmax) : dynamic_scale(amax, p.inv_qmax);
          const float inv_scale = inverse_scale(scale);
          const float factor = fold_max ? folded_quant_factor(inv, inv_scale) : inv_scale;
          const std::vector<float>& quantised = fold_max ? prenorm : ys;
          yscale[(g0 / group) * p.yscale_group_stride] = scale;
          for (int64_t i = g0; i < g0 + group; ++i) {
            if (unquant != nullptr) unquant[i] = static_cast<T>(fold_max ? prenorm[i] * inv : ys[i]);
            out[i] = quantize_to_byte(quantised[i] * factor, p.quant);
          }
        }
      }
    }
  });
}

template <typename T>
void norm_rows_for_dtype(const NormParams& p) {
  switch (p.variant) {
#define AITER_CPU_CASE(V) \
  case NormVariant::V: return norm_rows_typed<T, NormVariant::V>(p);
    AITER_CPU_CASE(kRms)
    AITER_CPU_CASE(kAddRms)
    AITER_CPU_CASE(kRmsQuant)
    AITER_CPU_CASE(kAddRmsQuant)
    AITER_CPU_CASE(kLayer)
    AITER_CPU_CASE(kAddLayer)
    AITER_CPU_CASE(kLayerQuant)
    AITER_CPU_CASE(kAddLayerQuant)
    AITER_CPU_CASE(kQkRms)
#undef AITER_CPU_CASE
  }
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
