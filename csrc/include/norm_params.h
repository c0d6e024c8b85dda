// What a norm launch needs to know, shared by the CPU implementation, the GPU
// kernels and the launch simulation. Plain data: no torch, no CUDA.
#pragma once
#include "quant_convert.h"
#include "row_layout.h"

namespace aiter {

enum class DType : int32_t { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

AITER_HD int dtype_size(DType t) { return t == DType::kFloat32 ? 4 : 2; }

// Which fused variant the kernel body runs. Every variant is the same row
// loop with compile-time prologue / epilogue flags, packed as bits:
//   bit 0  residual add prologue (residual_out = input [+ x_bias] + residual_in)
//   bit 1  dynamic-quant epilogue (per-row or per-group scale; optional
//          smooth xscale and out_before_quant are runtime options)
//   bit 2  LayerNorm: subtract the row mean (optional bias / x_bias / weight)
//   bit 3  two jobs in one launch (the fused Q/K norm; plain RMSNorm only),
//          so the single-job kernels carry no job split
enum class NormVariant : int32_t {
  kRms = 0,           // out = rmsnorm(input) * w
  kAddRms = 1,        // residual_out = input + residual_in; out = rmsnorm(residual_out) * w
  kRmsQuant = 2,      // out, yscale = quant(rmsnorm(input) * w [* xscale])
  kAddRmsQuant = 3,   // fused add, then the quantised RMSNorm
  kLayer = 4,         // out = layernorm(input [+ x_bias]) * w + b
  kAddLayer = 5,      // fused add, then LayerNorm
  kLayerQuant = 6,    // quantised LayerNorm
  kAddLayerQuant = 7,  // fused add, then quantised LayerNorm
  kQkRms = 8,          // plain RMSNorm over two jobs (Q and K) in one launch
  // The kernels of the quantising variants, one per output format (bits 4-5
  // hold the QuantType; see with_quant_type). Named so that every kernel's
  // template argument is an enumerator (nvcc's host stubs need that).
  kRmsQuantI8 = 0x12, kRmsQuantFp8 = 0x22, kRmsQuantFp8Fnuz = 0x32,
  kAddRmsQuantI8 = 0x13, kAddRmsQuantFp8 = 0x23, kAddRmsQuantFp8Fnuz = 0x33,
  kLayerQuantI8 = 0x16, kLayerQuantFp8 = 0x26, kLayerQuantFp8Fnuz = 0x36,
  kAddLayerQuantI8 = 0x17, kAddLayerQuantFp8 = 0x27, kAddLayerQuantFp8Fnuz = 0x37,
  // Per-group scales (bit 6; RMSNorm quant only): their own kernels, so the
  // per-row kernels' register allocation (and occupancy) does not carry the
  // per-group loop's, and neither carries a runtime switch between the two.
  kRmsQuantGroupI8 = 0x52, kRmsQuantGroupFp8 = 0x62, kRmsQuantGroupFp8Fnuz = 0x72,
  kAddRmsQuantGroupI8 = 0x53, kAddRmsQuantGroupFp8 = 0x63, kAddRmsQuantGroupFp8Fnuz = 0x73,
  // Calls with a smooth-quant xscale (bit 7): their own kernels, so the
  // others carry no per-chunk null test (it compiled to predicated loads and
  // multiplies that every call issued).
  kRmsQuantSmoothI8 = 0x92, kRmsQuantSmoothFp8 = 0xa2, kRmsQuantSmoothFp8Fnuz = 0xb2,
  kAddRmsQuantSmoothI8 = 0x93, kAddRmsQuantSmoothFp8 = 0xa3, kAddRmsQuantSmoothFp8Fnuz = 0xb3,
  kLayerQuantSmoothI8 = 0x96, kLayerQuantSmoothFp8 = 0xa6, kLayerQuantSmoothFp8Fnuz = 0xb6,
  kAddLayerQuantSmoothI8 = 0x97, kAddLayerQuantSmoothFp8 = 0xa7, kAddLayerQuantSmoothFp8Fnuz = 0xb7,
  kRmsQuantGroupSmoothI8 = 0xd2, kRmsQuantGroupSmoothFp8 = 0xe2, kRmsQuantGroupSmoothFp8Fnuz = 0xf2,
  kAddRmsQuantGroupSmoothI8 = 0xd3, kAddRmsQuantGroupSmoothFp8 = 0xe3, kAddRmsQuantGroupSmoothFp8Fnuz = 0xf3,
  // Dense-row kernels (bit 8; LaunchConfig::dense_rows): one row group per
  // block, every row tensor at most two row dims, 16-byte vectors held in
  // registers, no persistent loop, staging, split or multi-dim offsets. For
  // RMSNorm, the fused add, the fused Q/K norm, RMSNorm-quant (with and
  // without the add; every format, scale granularity and smooth twin) and
  // LayerNorm with and without the add (variant_has_dense_kernel).
  kRmsDense = 0x100, kAddRmsDense = 0x101, kQkRmsDense = 0x108,
  kLayerDense = 0x104, kAddLayerDense = 0x105,
  kRmsQuantDenseI8 = 0x112, kRmsQuantDenseFp8 = 0x122, kRmsQuantDenseFp8Fnuz = 0x132,
  kRmsQuantGroupDenseI8 = 0x152, kRmsQuantGroupDenseFp8 = 0x162, kRmsQuantGroupDenseFp8Fnuz = 0x172,
  kRmsQuantSmoothDenseI8 = 0x192, kRmsQuantSmoothDenseFp8 = 0x1a2, kRmsQuantSmoothDenseFp8Fnuz = 0x1b2,
  kRmsQuantGroupSmoothDenseI8 = 0x1d2, kRmsQuantGroupSmoothDenseFp8 = 0x1e2,
  kRmsQuantGroupSmoothDenseFp8Fnuz = 0x1f2,
  kAddRmsQuantDenseI8 = 0x113, kAddRmsQuantDenseFp8 = 0x123, kAddRmsQuantDenseFp8Fnuz = 0x133,
  kAddRmsQuantGroupDenseI8 = 0x153, kAddRmsQuantGroupDenseFp8 = 0x163, kAddRmsQuantGroupDenseFp8Fnuz = 0x173,
  kAddRmsQuantSmoothDenseI8 = 0x193, kAddRmsQuantSmoothDenseFp8 = 0x1a3, kAddRmsQuantSmoothDenseFp8Fnuz = 0x1b3,
  kAddRmsQuantGroupSmoothDenseI8 = 0x1d3, kAddRmsQuantGroupSmoothDenseFp8 = 0x1e3,
  kAddRmsQuantGroupSmoothDenseFp8Fnuz = 0x1f3,
};

AITER_HD constexpr bool variant_adds(NormVariant v) { return (static_cast<int>(v) & 1) != 0; }
AITER_HD constexpr bool variant_quantizes(NormVariant v) { return (static_cast<int>(v) & 2) != 0; }
AITER_HD constexpr bool variant_centers(NormVariant v) { return (static_cast<int>(v) & 4) != 0; }
AITER_HD constexpr bool variant_two_jobs(NormVariant v) { return (static_cast<int>(v) & 8) != 0; }
// Kernel instantiations of a quantising variant also carry the output format
// in bits 4-5 (a QuantType), so each kernel holds one encoder: a runtime
// format switch per chunk tripled the code and stalled on instruction fetch.
// Bit 6 marks per-group scales, bit 7 a smooth-quant xscale, bit 8 a
// dense-row kernel. NormParams::variant never has bits 4-8 (the launcher adds
// them from NormParams::quant, group_size, xscale and the launch shape).
AITER_HD constexpr NormVariant with_quant_type(NormVariant v, QuantType q) {
  return static_cast<NormVariant>(static_cast<int>(v) | (static_cast<int>(q) << 4));
}
AITER_HD constexpr QuantType variant_quant_type(NormVariant v) {
  return static_cast<QuantType>((static_cast<int>(v) >> 4) & 3);
}
AITER_HD constexpr NormVariant with_group_scales(NormVariant v) {
  return static_cast<NormVariant>(static_cast<int>(v) | 0x40);
}
AITER_HD constexpr bool variant_group_scales(NormVariant v) { return (static_cast<int>(v) & 0x40) != 0; }
AITER_HD constexpr NormVariant with_smooth(NormVariant v) {
  return static_cast<NormVariant>(static_cast<int>(v) | 0x80);
}
AITER_HD constexpr bool variant_smooths(NormVariant v) { return (static_cast<int>(v) & 0x80) != 0; }
// Variants with dense-row kernels, by base variant (bits 0-3): all but the
// quantised LayerNorms.
AITER_HD constexpr bool variant_has_dense_kernel(NormVariant v) {
  const NormVariant base = static_cast<NormVariant>(static_cast<int>(v) & 0xf);
  return base != NormVariant::kLayerQuant && base != NormVariant::kAddLayerQuant;
}
AITER_HD constexpr NormVariant with_dense_rows(NormVariant v) {
  return static_cast<NormVariant>(static_cast<int>(v) | 0x100);
}
AITER_HD constexpr bool variant_dense_rows(NormVariant v) { return (static_cast<int>(v) & 0x100) != 0; }
AITER_HD constexpr NormVariant without_dense_rows(NormVariant v) {
  return static_cast<NormVariant>(static_cast<int>(v) & ~0x100);
}
AITER_HD constexpr NormVariant make_variant(bool add, bool quant, bool layer) {
  return static_cast<NormVariant>((add ? 1 : 0) | (quant ? 2 : 0) | (layer ? 4 : 0));
}

struct NormParams {
  // What every launch reads comes first, in a few adjacent 64-byte lines of
  // the parameter block (the launchers pass LaunchConfig just before it):
  // each line a kernel touches costs a constant-cache miss at the start of
  // the launch, in sequence, which a decode launch pays in full.
  const void* input;
  void* out;                // dtype T, or one byte per element when quantising
  const void* weight;       // nullptr (LayerNorm only): 1
  int64_t weight_stride;    // elements; 1 when the weight is contiguous
  int64_t rows;
  int64_t hidden;
  float inv_hidden;         // 1 / hidden in fp32 (inv_rms)
  float epsilon;
  int32_t gemma;            // scale by (1 + w) instead of w
  int32_t model_sensitive;  // 1: round x * inv_rms to the input dtype before
                            // the weight multiply (upstream's T5-like mode)
  DType dtype;
  NormVariant variant;
  RowLayout input_rows, out_rows;

  const void* residual_in;  // adding variants only
  void* residual_out;       // adding variants only
  RowLayout residual_in_rows, residual_out_rows;

  // LayerNorm: optional bias (added after the weight) and x_bias (added to the
  // input before the norm, and before the residual add). nullptr: absent.
  const void* bias;
  const void* x_bias;
  int64_t bias_stride, x_bias_stride;

  // Quantising epilogue. y = norm * w [* xscale[col]]; per row (group_size 0)
  // or per group of group_size columns: scale = max|y| * inv_qmax and
  // out = quantize(y * (1 / scale)) (0 where the scale is 0).
  QuantType quant;
  float inv_qmax;            // 1 / (the format's largest finite value), in fp32
  int64_t group_size;        // 0: one scale per row
  const float* xscale;       // optional, fp32, hidden entries
  int64_t xscale_stride;
  float* yscale;             // fp32; row r, group g at
  RowLayout yscale_rows;     //   row_offset(yscale_rows, r) + g * yscale_group_stride
  int64_t yscale_group_stride;
  void* unquant;             // optional out_before_quant (dtype T): y before quantising
  RowLayout unquant_rows;

  // A second job in the same launch (kQkRms, the fused Q/K norm): rows
  // [split_row, rows) are rows 0.. of input_b / out_b, normalised with
  // weight_b. Other variants: split_row == rows.
  int64_t split_row;
  const void* input_b;
  void* out_b;
  const void* weight_b;
  int64_t weight_b_stride;
  RowLayout input_b_rows, out_b_rows;
};

// Element size of the `out` tensor.
AITER_HD int out_elem_size(const NormParams& p) {
  return variant_quantizes(p.variant) ? 1 : dtype_size(p.dtype);
}

// Whether a quantising launch takes its per-row max in the first pass
// (norm_math.h, folded_row_scale): RMSNorm with one scale per row, not
// model_sensitive. The CPU backend uses it for every row, the kernels for
// rows cached in registers (streamed rows take a max pass; the scale agrees
// to a few ulps).
AITER_HD bool max_folds_into_first_pass(const NormParams& p) {
  return variant_quantizes(p.variant) && !variant_centers(p.variant) && p.group_size == 0 &&
         !p.model_sensitive;
}

// The tensors one row reads and writes, after the job split. Offsets are in
// elements of each tensor's own type.
struct RowJob {
  const void* input;
  void* out;
  const void* weight;
  int64_t weight_stride;
  int64_t input_offset, out_offset;
};

// kTwoDim: the dense-row kernels' offsets (row_offset_as).
template <bool kTwoDim = false>
AITER_HD RowJob row_job(const NormParams& p, int64_t row) {
  RowJob j;
  if (row >= p.split_row) {
    const int64_t r = row - p.split_row;
    j.input = p.input_b;
    j.out = p.out_b;
    j.weight = p.weight_b;
    j.weight_stride = p.weight_b_stride;
    j.input_offset = row_offset_as<kTwoDim>(p.input_b_rows, r);
    j.out_offset = row_offset_as<kTwoDim>(p.out_b_rows, r);
  } else {
    j.input = p.input;
    j.out = p.out;
    j.weight = p.weight;
    j.weight_stride = p.weight_stride;
    j.input_offset = row_offset_as<kTwoDim>(p.input_rows, row);
    j.out_offset = row_offset_as<kTwoDim>(p.out_rows, row);
  }
  return j;
}

}  // namespace aiter
