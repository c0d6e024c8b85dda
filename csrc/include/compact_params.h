// The parameter block of dense-row RMSNorm launches (plain and fused add):
// the same launch as LaunchConfig + NormParams, in under a fifth of the bytes.
//
// Why: a kernel's parameter block costs GPU time once it outgrows about 200
// bytes. On the H100 (bf16, hidden 128, C++ harness, a 256 MB memset before
// each call, CUDA events, 600 calls) one minimal RMSNorm kernel, padded to
// each size, ran at 3.81 us for 1 token (32 rows) and 10.46 us for 1024
// with 88-192 bytes of parameters, 4.13 / 10.72 us with 256, and 4.1-4.6 /
// 11.1-11.2 us with 512 bytes to 4 KB; the library's launches of Q rows
// went from 4.86-5.06 to 4.26 us (T = 1) and 11.39 to 10.78 us (T = 1024)
// with this block. Behind a kernel instead of a memset (the benchmark times
// each call after a fill kernel) the gain is within run-to-run drift: the
// GPU prepares the launch while that kernel runs. LaunchConfig + NormParams
// is 928 bytes (eight RowLayouts). The dense-row RMSNorm kernels (2D and
// Q/K-slice calls of rms_norm and the fused add whose rows are 16-byte
// vectors in at most 512 lanes: hidden up to 16384 in 16-bit types) take
// this block and expand it back into the two structs in registers: the
// fields they never read are constants there, and the kernel body is the
// one every other launch runs.
#pragma once
#include <cstdint>

#include "launch_config.h"

namespace aiter {

// One row tensor as two_dim_row_offset reads it (RowLayout's two innermost
// slots, the inner size's divisor); the shift sits in CompactLaunch.
struct CompactRows {
  int64_t outer_stride;
  int64_t inner_stride;
  uint32_t inner_size;
  uint32_t inner_magic;
};

// Row tensors in CompactLaunch::rows.
enum CompactRowTensor : int { kCompactInput = 0, kCompactOut, kCompactResidualIn, kCompactResidualOut, kCompactTensors };

struct CompactLaunch {
  const void* input;
  void* out;
  const void* weight;        // contiguous: the 16-byte vectors dense rows need (RMSNorm has a weight)
  const void* residual_in;   // fused add only
  void* residual_out;        // fused add only
  CompactRows rows[kCompactTensors];
  uint32_t row_count;        // dense-row launches hold fewer than 2^31 rows
  uint32_t chunks_per_row;
  float inv_hidden;
  float epsilon;
  uint8_t inner_shift[kCompactTensors];
  uint16_t lanes;
  uint16_t rows_per_block;
  uint8_t lanes_shift;
  uint8_t prefetch_weights;
  uint8_t gemma;
  uint8_t model_sensitive;
  uint8_t slice_shift;
  uint8_t split;
};
constexpr int kCompactParamsLimit = 192;  // bytes measured free of the cost above
static_assert(sizeof(CompactLaunch) <= kCompactParamsLimit, "the compact block must stay small");

// Variants whose dense-row kernels take the compact block.
AITER_HD constexpr bool variant_takes_compact(NormVariant v) {
  return v == NormVariant::kRmsDense || v == NormVariant::kAddRmsDense;
}

// Whether a launch of such a variant fits the compact block: the dense-row
// kernel with one job, contiguous weights, and sizes its narrower fields hold.
inline bool compact_launch_fits(const NormParams& p, const LaunchConfig& c) {
  auto inner_fits = [](const RowLayout& l) { return l.sizes[kMaxRowDims - 1] <= UINT32_MAX; };
  bool ok = c.dense_rows && p.rows <= INT32_MAX && p.split_row == p.rows && c.chunks_per_row <= UINT32_MAX &&
            c.split <= UINT8_MAX &&
            (p.weight == nullptr || p.weight_stride == 1) && c.lanes <= UINT16_MAX &&
            c.rows_per_block <= UINT16_MAX && inner_fits(p.input_rows) && inner_fits(p.out_rows);
  if (variant_adds(p.variant)) ok = ok && inner_fits(p.residual_in_rows) && inner_fits(p.residual_out_rows);
  return ok;
}

inline CompactRows compact_rows(const RowLayout& l) {
  return CompactRows{l.strides[kMaxRowDims - 2], l.strides[kMaxRowDims - 1],
                     static_cast<uint32_t>(l.sizes[kMaxRowDims - 1]), l.inner_magic};
}

inline CompactLaunch compact_launch(const NormParams& p, const LaunchConfig& c) {
  CompactLaunch k{};
  k.input = p.input;
  k.out = p.out;
  k.weight = p.weight;
  const RowLayout* layouts[kCompactTensors] = {&p.input_rows, &p.out_rows, &p.residual_in_rows, &p.residual_out_rows};
  const int tensors = variant_adds(p.variant) ? kCompactTensors : kCompactResidualIn;
  for (int i = 0; i < tensors; ++i) {
    k.rows[i] = compact_rows(*layouts[i]);
    k.inner_shift[i] = static_cast<uint8_t>(layouts[i]->inner_shift);
  }
  if (variant_adds(p.variant)) {
    k.residual_in = p.residual_in;
    k.residual_out = p.residual_out;
  }
  k.row_count = static_cast<uint32_t>(p.rows);
  k.chunks_per_row = static_cast<uint32_t>(c.chunks_per_row);
  k.inv_hidden = p.inv_hidden;
  k.epsilon = p.epsilon;
  k.lanes = static_cast<uint16_t>(c.lanes);
  k.rows_per_block = static_cast<uint16_t>(c.rows_per_block);
  k.lanes_shift = static_cast<uint8_t>(c.lanes_shift);
  k.prefetch_weights = static_cast<uint8_t>(c.prefetch_weights);
  k.gemma = static_cast<uint8_t>(p.gemma != 0);
  k.model_sensitive = static_cast<uint8_t>(p.model_sensitive != 0);
  k.slice_shift = static_cast<uint8_t>(c.slice_shift);
  k.split = static_cast<uint8_t>(c.split);
  return k;
}

// --- expansion (kernels, and the launch simulation, which checks it) -------

// The RowLayout two_dim_row_offset reads (its other slots: unused).
AITER_HD RowLayout expanded_rows(const CompactRows& r, uint8_t shift) {
  RowLayout l{};
  l.ndim = 2;
  for (int d = 0; d < kMaxRowDims; ++d) {
    l.sizes[d] = 1;
    l.strides[d] = 0;
  }
  l.sizes[kMaxRowDims - 1] = r.inner_size;
  l.strides[kMaxRowDims - 1] = r.inner_stride;
  l.strides[kMaxRowDims - 2] = r.outer_stride;
  l.inner_magic = r.inner_magic;
  l.inner_shift = shift;
  return l;
}

// The launch as the dense-row kernel sees it: the chosen config's fields that
// kernel reads, for a block of `threads` threads and a grid of `grid` blocks.
AITER_HD LaunchConfig expanded_config(const CompactLaunch& k, int vec, int chunks, int threads, int64_t grid) {
  LaunchConfig c{};
  c.vec = vec;
  c.lanes = k.lanes;
  c.lanes_shift = k.lanes_shift;
  c.chunks = chunks;
  c.threads = threads;
  c.rows_per_block = k.rows_per_block;
  c.grid = grid;
  c.chunks_per_row = k.chunks_per_row;
  c.grid_waves = 0;
  c.group_lanes = 0;
  c.split = k.split;
  c.row_batch = 1;
  c.prefetch_weights = k.prefetch_weights;
  c.stage_rows = 0;
  c.dense_rows = 1;
  c.slice_shift = k.slice_shift;
  return c;
}

// `variant` may carry the dense-row bit (a kernel's template argument); the
// NormParams field holds the variant without it, as the launcher sets it.
AITER_HD NormParams expanded_params(const CompactLaunch& k, DType dtype, NormVariant variant, int vec) {
  NormParams p{};
  p.input = k.input;
  p.out = k.out;
  p.weight = k.weight;
  p.weight_stride = 1;
  p.rows = k.row_count;
  p.hidden = static_cast<int64_t>(k.chunks_per_row) * vec;
  p.inv_hidden = k.inv_hidden;
  p.epsilon = k.epsilon;
  p.gemma = k.gemma;
  p.model_sensitive = k.model_sensitive;
  p.dtype = dtype;
  p.variant = without_dense_rows(variant);
  p.input_rows = expanded_rows(k.rows[kCompactInput], k.inner_shift[kCompactInput]);
  p.out_rows = expanded_rows(k.rows[kCompactOut], k.inner_shift[kCompactOut]);
  if (variant_adds(variant)) {
    p.residual_in = k.residual_in;
    p.residual_out = k.residual_out;
    p.residual_in_rows = expanded_rows(k.rows[kCompactResidualIn], k.inner_shift[kCompactResidualIn]);
    p.residual_out_rows = expanded_rows(k.rows[kCompactResidualOut], k.inner_shift[kCompactResidualOut]);
  }
  p.split_row = p.rows;
  return p;
}

}  // namespace aiter
