// What a norm launch needs to know, shared by the CPU implementation, the GPU
// kernels and the launch simulation. Plain data: no torch, no CUDA.
#pragma once
#include "row_layout.h"

namespace aiter {

enum class DType : int32_t { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

AITER_HD int dtype_size(DType t) { return t == DType::kFloat32 ? 4 : 2; }

// Which fused variant the kernel body runs; each is a prologue/epilogue of the
// same row loop.
enum class NormVariant : int32_t {
  kRms = 0,     // out = rmsnorm(input) * w
  kAddRms = 1,  // residual_out = input + residual_in; out = rmsnorm(residual_out) * w
};

struct NormParams {
  const void* input;
  const void* residual_in;  // kAddRms only
  void* out;
  void* residual_out;       // kAddRms only
  const void* weight;
  RowLayout input_rows, residual_in_rows, out_rows, residual_out_rows;
  int64_t rows;
  int64_t hidden;
  int64_t weight_stride;    // elements; 1 when the weight is contiguous
  float epsilon;
  int32_t gemma;            // scale by (1 + w) instead of w
  int32_t model_sensitive;  // 1: round x * inv_rms to the input dtype before
                            // the weight multiply (upstream's T5-like mode)
  DType dtype;
  NormVariant variant;
};

}  // namespace aiter
