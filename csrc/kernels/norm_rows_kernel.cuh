// One templated kernel for every row-norm variant, layout and row length.
//   T        storage dtype (float, half, bf16)
//   VEC      elements per global access (16 bytes' worth, or 1 for the scalar path)
//   CACHED   vectors per thread kept in registers (row read once); 0 = streamed
//   VARIANT  prologue/epilogue flags (norm_params.h): residual add (+ x_bias)
//            first, LayerNorm mean subtraction, dynamic-quant epilogue (one
//            instantiation per output format)
// Rows are addressed through each tensor's own RowLayout, so any view whose
// last dim has stride 1 is read in place.
#pragma once
#include "compat.h"
#include "compact_params.h"
#include "launch_config.h"
#include "norm_math.h"
#include "quant_convert.h"

namespace aiter {

template <typename T, int VEC>
struct alignas(sizeof(T) * VEC) Vec {
  T v[VEC];
};

// The same 16 (or fewer) bytes as another type.
template <typename To, typename From>
__device__ __forceinline__ To bit_cast_vec(const From& v) {
  static_assert(sizeof(To) == sizeof(From), "same size");
  return *reinterpret_cast<const To*>(&v);
}

// Whether a kernel converts its 16-bit chunks a 32-bit word at a time
// (compat_unpack2, compat_pack2) rather than element by element. nvcc, sm_90,
// four bf16 vectors per thread under 64 registers: by word, LayerNorm and the
// fused-add kernels keep their rows in the registers they were loaded in
// (element-wise, LayerNorm spilled 58 bytes and its fused add 152); the
// quantising kernels without the add spilled 4-28 bytes by word, and the
// per-group one issued a row load after the first chunk's math (78 -> 66% of
// copy, H100 h4096, T = 8192), so they convert element by element.
AITER_HD constexpr bool converts_by_word(NormVariant v) { return !variant_quantizes(v) || variant_adds(v); }

// A chunk's fp32 values, and fp32 values rounded into a chunk: by word
// where kByWord (a kernel's converts_by_word), else element by element.
template <typename T, int VEC, bool kByWord>
__device__ __forceinline__ void chunk_to_floats(const Vec<T, VEC>& v, float (&f)[VEC]) {
  if constexpr (kByWord && sizeof(T) == 2 && VEC % 2 == 0) {
    const auto words = bit_cast_vec<Vec<uint32_t, VEC / 2>>(v);
#pragma unroll
    for (int i = 0; i < VEC / 2; ++i) {
      const float2 pair = compat_unpack2<T>(words.v[i]);
      f[2 * i] = pair.x;
      f[2 * i + 1] = pair.y;
    }
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) f[i] = to_float(v.v[i]);
  }
}

template <typename T, int VEC, bool kByWord>
__device__ __forceinline__ Vec<T, VEC> floats_to_chunk(const float (&f)[VEC]) {
  if constexpr (kByWord && sizeof(T) == 2 && VEC % 2 == 0) {
    Vec<uint32_t, VEC / 2> words;
#pragma unroll
    for (int i = 0; i < VEC / 2; ++i) words.v[i] = compat_pack2<T>(f[2 * i], f[2 * i + 1]);
    return bit_cast_vec<Vec<T, VEC>>(words);
  } else {
    Vec<T, VEC> v;
#pragma unroll
    for (int i = 0; i < VEC; ++i) v.v[i] = from_float<T>(f[i]);
    return v;
  }
}

template <typename T>
struct RoundTo {
  __device__ __forceinline__ float operator()(float v) const { return to_float(from_float<T>(v)); }
};

struct SumOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// A row's sum of squares and folded quant max, reduced together: one
// barrier, and the two shuffle chains overlap.
struct SumMax {
  float sum;
  float max;
};
struct SumMaxOp {
  __device__ __forceinline__ SumMax operator()(SumMax a, SumMax b) const { return {a.sum + b.sum, fmaxf(a.max, b.max)}; }
};

__device__ __forceinline__ float shfl_xor_value(float v, int m, int width) { return compat_shfl_xor(v, m, width); }
__device__ __forceinline__ SumMax shfl_xor_value(SumMax v, int m, int width) {
  return {compat_shfl_xor(v.sum, m, width), compat_shfl_xor(v.max, m, width)};
}

// Reduction over aligned groups of `width` lanes (a power of two <= warp),
// unrolled over every width a warp allows and predicated on the runtime one,
// widest step first: the result of a loop from width / 2 down to 1, without
// its compare, move and branch per step (paid per chunk by the per-group
// quant epilogue, and per row by short rows). XOR by m < width stays inside
// the group, so every shuffle spans the whole warp.
template <typename V, typename Op>
__device__ __forceinline__ V group_reduce(V v, int width, Op op) {
#pragma unroll
  for (int m = AITER_DEVICE_WARP >> 1; m > 0; m >>= 1)
    if (m < width) v = op(v, shfl_xor_value(v, m, AITER_DEVICE_WARP));
  return v;
}

constexpr int kMaxWarps = AITER_MAX_BLOCK_THREADS / AITER_DEVICE_WARP;
static_assert(kMaxWarps <= AITER_DEVICE_WARP, "one warp holds every warp's partial");

// Reduction over the first `lanes` threads of the block (a power of two, at
// least a warp; every thread calls it and gets the result). Each warp
// reduces the warps' partials itself, as a shuffle tree over lane groups of
// `warps` lanes: at decode sizes a serial loop over them (a shared load and
// add per warp, plus its loop code) cost more than the reduction's shuffles.
// The order depends on `lanes` only, so a row's result does not depend on
// the batch. `parity` alternates the scratch buffer so one barrier per
// reduction suffices.
template <typename V, typename Op>
__device__ __forceinline__ V block_reduce(V v, V (*scratch)[kMaxWarps], int& parity, int lanes, Op op) {
  v = group_reduce(v, AITER_DEVICE_WARP, op);
  const int lane = threadIdx.x % AITER_DEVICE_WARP;
  if (lane == 0) scratch[parity][threadIdx.x / AITER_DEVICE_WARP] = v;
  __syncthreads();
  const int warps = lanes / AITER_DEVICE_WARP;
  const V total = group_reduce(scratch[parity][lane & (warps - 1)], warps, op);
  parity ^= 1;
  return total;
}

// Lanes of a split launch's logical (unsplit) row: lanes / split, both
// powers of two (a shift, where the dense-row decode kernels' critical path
// would pay a runtime divide).
__device__ __forceinline__ int unsplit_lanes(const LaunchConfig& c) { return c.lanes >> (compat_ffs(c.split) - 1); }

// A split launch's (LaunchConfig::split) per-thread partial sums, gathered
// as the launch without the split adds them: lane t of `logical` (lanes /
// split) sums the partials of its chunks t, t + logical, ... in turn. The
// caller's next block_reduce (over the first `logical` threads) orders
// every thread's reads here before the buffer is written again.
// kUnrolled (the dense-row fused add's decode launches): unrolled over
// kMaxCachedChunks slots (a split is a chunk count) without the row-end
// test. Threads past the row's end hold +0, which leaves a sum (never -0:
// it starts at +0) bit for bit as the unsplit launch's, which skips their
// chunks. As the general kernels' runtime loop, nvcc gave it ~100
// instructions of remainder handling on a decode launch's critical path;
// unrolled in the general kernels, their one-vector kernels took up to 8
// more registers (some spilled), so they keep the loop.
template <bool kUnrolled>
__device__ __forceinline__ float split_partials(float v, float* buffer, const LaunchConfig& c, int logical) {
  buffer[threadIdx.x] = v;
  __syncthreads();
  float s = 0.f;
  if (static_cast<int>(threadIdx.x) < logical) {
    if constexpr (kUnrolled) {
#pragma unroll
      for (int k = 0; k < kMaxCachedChunks; ++k)
        if (k < c.split) s += buffer[threadIdx.x + k * logical];
    } else {
      for (int k = 0; k < c.split; ++k) {
        const int chunk = static_cast<int>(threadIdx.x) + k * logical;
        if (chunk_in_row(c, chunk)) s += buffer[chunk];
      }
    }
  }
  return s;
}

// Row data is read once, through the read-only path. Re-reads of values this kernel
// wrote (a streamed row's residual_out) must use load_vec_coherent instead.
template <typename T, int VEC>
__device__ __forceinline__ Vec<T, VEC> load_vec(const T* base, int64_t offset) {
  return compat_load_once(reinterpret_cast<const Vec<T, VEC>*>(base + offset));
}

template <typename T, int VEC>
__device__ __forceinline__ Vec<T, VEC> load_vec_coherent(const T* base, int64_t offset) {
  return *reinterpret_cast<const Vec<T, VEC>*>(base + offset);
}

template <typename T, int VEC>
__device__ __forceinline__ void store_vec(T* base, int64_t offset, const Vec<T, VEC>& v) {
  compat_store_streaming(reinterpret_cast<Vec<T, VEC>*>(base + offset), v);
}

// A per-column parameter (weight, bias, x_bias) for one chunk; `absent` when
// the pointer is null. Vector loads only where the launcher checked stride 1.
template <typename T, int VEC, bool kMayBeAbsent = true>
__device__ __forceinline__ Vec<T, VEC> load_param(const void* ptr, int64_t stride, int64_t chunk,
                                                  float absent) {
  const T* w = static_cast<const T*>(ptr);
  if constexpr (VEC > 1) {
    if (kMayBeAbsent && w == nullptr) {
      float f[VEC];
#pragma unroll
      for (int i = 0; i < VEC; ++i) f[i] = absent;
      return floats_to_chunk<T, VEC, true>(f);
    }
    return load_vec_coherent<T, VEC>(w, chunk * VEC);
  } else {
    Vec<T, VEC> r;
    if (kMayBeAbsent && w == nullptr) r.v[0] = from_float<T>(absent);
    else r.v[0] = w[chunk * stride];
    return r;
  }
}

// Each tensor's start of one row, computed once per row (after the job split
// of a two-job launch).
template <typename T>
struct RowPointers {
  const T* input;
  const T* residual_in;
  void* out;  // T, or bytes when quantising
  T* residual_out;
  T* unquant;
  const void* weight;
  int64_t weight_stride;
  float* yscale;
  int job;
};

template <typename T, NormVariant VARIANT>
__device__ __forceinline__ RowPointers<T> row_pointers(const NormParams& p, int64_t row) {
  constexpr bool kTwoDim = variant_dense_rows(VARIANT);  // the dense-row kernels' offsets
  RowPointers<T> r;
  RowJob j;
  if constexpr (variant_two_jobs(VARIANT)) {
    j = row_job<kTwoDim>(p, row);
    r.job = row >= p.split_row ? 1 : 0;
  } else {
    j = RowJob{p.input, p.out, p.weight, p.weight_stride, row_offset_as<kTwoDim>(p.input_rows, row),
               row_offset_as<kTwoDim>(p.out_rows, row)};
    r.job = 0;
  }
  r.input = static_cast<const T*>(j.input) + j.input_offset;
  r.weight = j.weight;
  r.weight_stride = j.weight_stride;
  r.residual_in = nullptr;
  r.residual_out = nullptr;
  r.unquant = nullptr;
  r.yscale = nullptr;
  if constexpr (variant_quantizes(VARIANT)) {
    r.out = static_cast<uint8_t*>(j.out) + j.out_offset;
    r.yscale = p.yscale + row_offset(p.yscale_rows, row);
    if (p.unquant != nullptr) r.unquant = static_cast<T*>(p.unquant) + row_offset(p.unquant_rows, row);
  } else {
    r.out = static_cast<T*>(j.out) + j.out_offset;
  }
  if constexpr (variant_adds(VARIANT)) {
    r.residual_in = static_cast<const T*>(p.residual_in) + row_offset_as<kTwoDim>(p.residual_in_rows, row);
    r.residual_out = static_cast<T*>(p.residual_out) + row_offset_as<kTwoDim>(p.residual_out_rows, row);
  }
  return r;
}

// The row tensors one chunk of the prologue reads: input, and residual_in
// when adding (from global memory, or from a block's staging buffer).
template <typename T, int VEC>
struct RowInputs {
  Vec<T, VEC> input;
  Vec<T, VEC> residual;
};

template <typename T, int VEC, NormVariant VARIANT>
__device__ __forceinline__ Vec<T, VEC> load_row_vec(const T* base, int64_t chunk) {
  if constexpr (variant_dense_rows(VARIANT))
    return compat_load_row(reinterpret_cast<const Vec<T, VEC>*>(base + chunk * VEC));
  else return load_vec<T, VEC>(base, chunk * VEC);
}

template <typename T, int VEC, NormVariant VARIANT>
__device__ __forceinline__ RowInputs<T, VEC> load_row_inputs(const RowPointers<T>& r, int64_t chunk) {
  RowInputs<T, VEC> in;
  in.input = load_row_vec<T, VEC, VARIANT>(r.input, chunk);
  if constexpr (variant_adds(VARIANT)) in.residual = load_row_vec<T, VEC, VARIANT>(r.residual_in, chunk);
  return in;
}

// A block's staging buffer (LaunchConfig::stage_rows; variants without the
// residual add): per buffer and chunk slot, one 16-byte vector of input per
// thread, so each thread reads back only what it copied (no barrier) and
// neighbours hit distinct banks.
template <int CACHED>
__device__ __forceinline__ uint4* staged_vector(uint4* stage, int buffer, int k) {
  return stage + (buffer * CACHED + k) * static_cast<int>(blockDim.x) + threadIdx.x;
}

// Whether a kernel instantiation keeps its row in the staging buffer
// (keeps_row_in_shared; 16-byte vectors, asynchronous copies): the kernel
// reads its row from there, and its launcher must give it the buffer.
template <typename T, int VEC, int CACHED, NormVariant VARIANT>
AITER_HD constexpr bool kernel_keeps_row_in_shared() {
  return AITER_ASYNC_COPY && VEC * sizeof(T) == kVectorBytes && keeps_row_in_shared(VARIANT, CACHED);
}

// Starts copying this thread's chunks of row group `group` into `buffer`.
template <typename T, int VEC, int CACHED, NormVariant VARIANT>
__device__ __forceinline__ void stage_row_group(const NormParams& p, const LaunchConfig& c, int64_t group,
                                                uint4* stage, int buffer) {
  static_assert(!variant_adds(VARIANT), "staging holds input only");
  const int64_t row = row_of(c, group, threadIdx.x);
  if (row >= p.rows) return;
  const RowPointers<T> r = row_pointers<T, VARIANT>(p, row);
#pragma unroll
  for (int k = 0; k < CACHED; ++k) {
    const int64_t chunk = chunk_of(c, threadIdx.x, k);
    if (chunk_in_row(c, chunk)) compat_copy_async16(staged_vector<CACHED>(stage, buffer, k), r.input + chunk * VEC);
  }
}

template <typename T, int VEC, int CACHED>
__device__ __forceinline__ RowInputs<T, VEC> read_staged_inputs(uint4* stage, int buffer, int k) {
  static_assert(sizeof(Vec<T, VEC>) == sizeof(uint4), "staging holds 16-byte vectors");
  RowInputs<T, VEC> in;
  const uint4 a = *staged_vector<CACHED>(stage, buffer, k);
  in.input = *reinterpret_cast<const Vec<T, VEC>*>(&a);
  return in;
}

// A row chunk of a kernel that keeps its row in the staging buffer (only
// instantiated for those: callers pick it with a constant condition).
template <bool kInShared, typename T, int VEC, int CACHED>
__device__ __forceinline__ Vec<T, VEC> staged_row_chunk(uint4* stage, int buffer, int k) {
  if constexpr (kInShared) return read_staged_inputs<T, VEC, CACHED>(stage, buffer, k).input;
  else return Vec<T, VEC>{};
}

// Whether the prologue adds input and residual_in as packed bf16 words
// (compat_add_bf16x2): the dense-row RMSNorm fused adds in bf16, plain and
// quantising. LayerNorm's prologue may add x_bias as well, which this path
// does not, so its fused adds keep the fp32 path. Same bits as the
// fp32 path; H100 C++ harness, bf16, same run: decode 1-5% faster on hidden
// 4096-16384, other launches within noise. fp16 keeps the fp32 path (its
// four-vector kernel spilled 60 bytes at the 64-register bound), and so do
// the general kernels (their streamed fused add went from 0 to 8 bytes of
// stack).
template <typename T, int VEC, NormVariant VARIANT>
AITER_HD constexpr bool adds_by_word() {
  return std::is_same<T, compat_bf16>::value && variant_dense_rows(VARIANT) && variant_adds(VARIANT) &&
         !variant_centers(VARIANT) && VEC % 2 == 0;
}

// Prologue: the row values the norm is taken over, for one chunk: input
// [+ x_bias] [+ residual_in], rounded to T once when anything was added. The
// fused add also stores them to residual_out (STORE; the first pass only).
template <typename T, int VEC, NormVariant VARIANT, bool STORE>
__device__ __forceinline__ Vec<T, VEC> combine_row_chunk(const NormParams& p, const RowPointers<T>& r,
                                                         int64_t chunk, const RowInputs<T, VEC>& in,
                                                         bool stores_here = true) {
  Vec<T, VEC> x = in.input;
  const bool xb = variant_centers(VARIANT) && p.x_bias != nullptr;
  if (variant_adds(VARIANT) || xb) {
    if constexpr (adds_by_word<T, VEC, VARIANT>()) {
      // input + residual_in rounded once, a word (two elements) at a time.
      const auto a = bit_cast_vec<Vec<uint32_t, VEC / 2>>(x);
      const auto b = bit_cast_vec<Vec<uint32_t, VEC / 2>>(in.residual);
      Vec<uint32_t, VEC / 2> sum;
#pragma unroll
      for (int i = 0; i < VEC / 2; ++i) sum.v[i] = compat_add_bf16x2(a.v[i], b.v[i]);
      x = bit_cast_vec<Vec<T, VEC>>(sum);
    } else {
      float f[VEC];
      chunk_to_floats<T, VEC, converts_by_word(VARIANT)>(x, f);
      if (xb) {
        float b[VEC];
        chunk_to_floats<T, VEC, converts_by_word(VARIANT)>(load_param<T, VEC>(p.x_bias, p.x_bias_stride, chunk, 0.f), b);
#pragma unroll
        for (int i = 0; i < VEC; ++i) f[i] += b[i];
      }
      if constexpr (variant_adds(VARIANT)) {
        float r[VEC];
        chunk_to_floats<T, VEC, converts_by_word(VARIANT)>(in.residual, r);
#pragma unroll
        for (int i = 0; i < VEC; ++i) f[i] += r[i];
      }
      x = floats_to_chunk<T, VEC, converts_by_word(VARIANT)>(f);
    }
    if constexpr (variant_adds(VARIANT) && STORE) {
      if (stores_here) store_vec<T, VEC>(r.residual_out, chunk * VEC, x);
    }
  }
  return x;
}

template <typename T, int VEC, NormVariant VARIANT, bool STORE>
__device__ __forceinline__ Vec<T, VEC> load_row_chunk(const NormParams& p, const RowPointers<T>& r,
                                                      int64_t chunk) {
  return combine_row_chunk<T, VEC, VARIANT, STORE>(p, r, chunk, load_row_inputs<T, VEC, VARIANT>(r, chunk));
}

// Where a later pass over a streamed row re-reads its values from.
template <typename T, int VEC, NormVariant VARIANT>
__device__ __forceinline__ Vec<T, VEC> reload_row_chunk(const NormParams& p, const RowPointers<T>& r,
                                                        int64_t chunk) {
  if constexpr (variant_adds(VARIANT))
    return load_vec_coherent<T, VEC>(r.residual_out, chunk * VEC);
  else
    return load_row_chunk<T, VEC, VARIANT, false>(p, r, chunk);
}

// The statistic of the first pass: sum of squares (RMSNorm) or sum (LayerNorm).
template <typename T, int VEC, NormVariant VARIANT>
__device__ __forceinline__ float first_moment(const Vec<T, VEC>& x) {
  float f[VEC];
  chunk_to_floats<T, VEC, converts_by_word(VARIANT)>(x, f);
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < VEC; ++i) s += variant_centers(VARIANT) ? f[i] : f[i] * f[i];
  return s;
}

template <typename T, int VEC, NormVariant VARIANT>
__device__ __forceinline__ float squared_deviations(const Vec<T, VEC>& x, float mean) {
  float f[VEC];
  chunk_to_floats<T, VEC, converts_by_word(VARIANT)>(x, f);
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < VEC; ++i) {
    const float d = f[i] - mean;
    s += d * d;
  }
  return s;
}

// The smooth-quant factor of each column, in the kernels for calls with an
// xscale (variant_smooths; the launcher picks them when xscale is given).
template <int VEC, NormVariant VARIANT>
__device__ __forceinline__ void apply_xscale(const NormParams& p, int64_t chunk, float (&y)[VEC]) {
  if constexpr (!variant_smooths(VARIANT)) return;
  if constexpr (VEC % 4 == 0) {
    // pick_vector_width checked xscale is contiguous and 16-byte aligned.
#pragma unroll
    for (int i = 0; i < VEC; i += 4) {
      const Vec<float, 4> s = load_vec_coherent<float, 4>(p.xscale, chunk * VEC + i);
#pragma unroll
      for (int j = 0; j < 4; ++j) y[i + j] *= s.v[j];
    }
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i) y[i] *= p.xscale[(chunk * VEC + i) * p.xscale_stride];
  }
}

// Element i of a chunk in fp32: from the converted array where the kernel
// converts by word, else converted where it is used (converts_by_word).
template <bool kByWord, typename T, int VEC>
__device__ __forceinline__ float chunk_element(const float (&converted)[VEC], const Vec<T, VEC>& v, int i) {
  if constexpr (kByWord) return converted[i];
  else return to_float(v.v[i]);
}

// Whether RMSNorm's gain is plainly the weight: neither gemma's (1 + w) nor
// model_sensitive's rounding of x * inv.
__device__ __forceinline__ bool plain_gain(const NormParams& p) { return !p.gemma && !p.model_sensitive; }

// The normalised values of one chunk before the output rounding:
// RMSNorm (weight, gemma, T5 rounding; `plain`: plain_gain) or LayerNorm
// (weight, bias b; unused by RMSNorm), times the smooth-quant xscale when
// quantising with one.
template <typename T, int VEC, NormVariant VARIANT>
__device__ __forceinline__ void normed_chunk(const NormParams& p, int64_t chunk, const Vec<T, VEC>& x,
                                             const Vec<T, VEC>& w, const Vec<T, VEC>& b, float mean,
                                             float inv, float (&y)[VEC], bool plain) {
  // Element by element the values are converted where they are used: arrays
  // of converted values made nvcc spill the quant kernels (converts_by_word).
  constexpr bool kByWord = converts_by_word(VARIANT);
  float xf[VEC], wf[VEC], bf[VEC];
  if constexpr (kByWord) {
    chunk_to_floats<T, VEC, kByWord>(x, xf);
    chunk_to_floats<T, VEC, kByWord>(w, wf);
    if constexpr (variant_centers(VARIANT)) chunk_to_floats<T, VEC, kByWord>(b, bf);
  }
  if constexpr (variant_centers(VARIANT)) {
#pragma unroll
    for (int i = 0; i < VEC; ++i)
      y[i] = layer_element(chunk_element<kByWord>(xf, x, i), mean, inv, chunk_element<kByWord>(wf, w, i),
                           chunk_element<kByWord>(bf, b, i));
  } else if (plain) {  // the common case, without per-element selects
#pragma unroll
    for (int i = 0; i < VEC; ++i) y[i] = chunk_element<kByWord>(xf, x, i) * inv * chunk_element<kByWord>(wf, w, i);
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i)
      y[i] = scale_element(chunk_element<kByWord>(xf, x, i), inv, chunk_element<kByWord>(wf, w, i), p.gemma,
                           p.model_sensitive, RoundTo<T>());
  }
  apply_xscale<VEC, VARIANT>(p, chunk, y);
}

template <int VEC>
__device__ __forceinline__ float chunk_abs_max(const float (&y)[VEC]) {
  float m = 0.f;
#pragma unroll
  for (int i = 0; i < VEC; ++i) m = abs_max(m, y[i]);
  return m;
}

// x * gain [* xscale] for one chunk: what a folded per-row quant max is
// taken over in the first pass, and what the store pass quantises
// (norm_math.h, folded_row_scale and folded_quant_factor).
template <typename T, int VEC, NormVariant VARIANT>
__device__ __forceinline__ void prenorm_chunk(const NormParams& p, int64_t chunk, const Vec<T, VEC>& x,
                                              const Vec<T, VEC>& w, float (&v)[VEC]) {
  constexpr bool kByWord = converts_by_word(VARIANT);
  float xf[VEC], wf[VEC];
  if constexpr (kByWord) {
    chunk_to_floats<T, VEC, kByWord>(x, xf);
    chunk_to_floats<T, VEC, kByWord>(w, wf);
  }
  if (!p.gemma) {  // the common case, without per-element selects
#pragma unroll
    for (int i = 0; i < VEC; ++i)
      v[i] = prenorm_element(chunk_element<kByWord>(xf, x, i), chunk_element<kByWord>(wf, w, i), 0);
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i)
      v[i] = prenorm_element(chunk_element<kByWord>(xf, x, i), chunk_element<kByWord>(wf, w, i), 1);
  }
  apply_xscale<VEC, VARIANT>(p, chunk, v);
}

// Epilogue without quantisation: round to T and store.
template <typename T, int VEC, NormVariant VARIANT>
__device__ __forceinline__ void store_normed(const RowPointers<T>& r, int64_t chunk, const float (&y)[VEC]) {
  store_vec<T, VEC>(static_cast<T*>(r.out), chunk * VEC, floats_to_chunk<T, VEC, converts_by_word(VARIANT)>(y));
}

// Quantised byte of one value, and of four values as one word (the first in
// the low byte), in format Q.
template <QuantType Q>
__device__ __forceinline__ uint8_t encode_byte(float v) {
  if constexpr (Q == QuantType::kInt8) return static_cast<uint8_t>(compat_encode_int8(v));
  else if constexpr (Q == QuantType::kFp8E4M3Fn) return float_to_e4m3fn(v);
  else return float_to_e4m3fnuz(v);
}

template <QuantType Q>
__device__ __forceinline__ uint32_t encode_word(const float* v) {
  if constexpr (Q == QuantType::kFp8E4M3Fn) {
    const uint32_t lo = compat_encode_e4m3fn_x2(v[0], v[1]);
    const uint32_t hi = compat_encode_e4m3fn_x2(v[2], v[3]);
    return lo | (hi << 16);
  } else if constexpr (Q == QuantType::kInt8) {
    return compat_bytes_to_word(compat_encode_int8(v[0]), compat_encode_int8(v[1]), compat_encode_int8(v[2]),
                                compat_encode_int8(v[3]));
  } else {
    return compat_bytes_to_word(encode_byte<Q>(v[0]), encode_byte<Q>(v[1]), encode_byte<Q>(v[2]), encode_byte<Q>(v[3]));
  }
}

// A chunk of VEC (a multiple of 4) quantised values as VEC / 4 words. The
// quantising epilogue stores these words: built and stored as a byte vector,
// the chunk cost about 30 byte-shuffle instructions (sm_90 SASS), paid on
// every chunk by the issue-bound per-group kernel.
template <QuantType Q, int VEC>
__device__ __forceinline__ Vec<uint32_t, VEC / 4> encode_words(const float (&v)[VEC]) {
  static_assert(VEC % 4 == 0, "whole words");
  Vec<uint32_t, VEC / 4> words;
#pragma unroll
  for (int i = 0; i < VEC / 4; ++i) words.v[i] = encode_word<Q>(v + 4 * i);
  return words;
}

// Quantised bytes of VEC values in format Q (the device half of
// _C.quantize_bytes, which tests it against torch's casts; whole words where
// VEC allows, as the kernels store them).
template <QuantType Q, int VEC>
__device__ __forceinline__ Vec<uint8_t, VEC> encode_values(const float (&v)[VEC]) {
  if constexpr (VEC % 4 == 0) {
    return bit_cast_vec<Vec<uint8_t, VEC>>(encode_words<Q, VEC>(v));
  } else {
    Vec<uint8_t, VEC> q;
#pragma unroll
    for (int i = 0; i < VEC; ++i) q.v[i] = encode_byte<Q>(v[i]);
    return q;
  }
}

// Quantising epilogue: the optional out_before_quant, y = v * factor rounded
// to T (factor 1 where v is y, inv_rms where the row max folded)...
template <typename T, int VEC>
__device__ __forceinline__ void store_unquantized(const RowPointers<T>& r, int64_t chunk, const float (&v)[VEC],
                                                  float factor) {
  Vec<T, VEC> u;
#pragma unroll
  for (int i = 0; i < VEC; ++i) u.v[i] = from_float<T>(v[i] * factor);
  store_vec<T, VEC>(r.unquant, chunk * VEC, u);
}

// ... and the bytes of v * factor in the kernel's format Q (v is y and the
// factor 1 / scale, or for a folded row max, v is x * gain [* xscale] and the
// factor inv_rms / scale).
template <typename T, int VEC, QuantType Q>
__device__ __forceinline__ void store_quantized(const RowPointers<T>& r, int64_t chunk, const float (&v)[VEC],
                                                float factor) {
  float scaled[VEC];
#pragma unroll
  for (int i = 0; i < VEC; ++i) scaled[i] = v[i] * factor;
  if constexpr (VEC % 4 == 0)
    store_vec<uint32_t, VEC / 4>(static_cast<uint32_t*>(r.out), chunk * (VEC / 4), encode_words<Q, VEC>(scaled));
  else
    store_vec<uint8_t, VEC>(static_cast<uint8_t*>(r.out), chunk * VEC, encode_values<Q, VEC>(scaled));
}

// Short rows (one vector per thread) of plain RMSNorm, kBatch
// row groups per pass: all their loads go out before the first shuffle
// reduction, and the loop's per-row overhead is shared. Each row is reduced
// exactly as in the kernel's one-group loop (same lanes, same order).
template <typename T, int VEC, NormVariant VARIANT, int kBatch>
__device__ __forceinline__ void short_rows_batched(const NormParams& p, const LaunchConfig& c) {
  const int t = threadIdx.x;
  const int64_t chunk = chunk_of(c, t, 0);
  const bool in_row = chunk_in_row(c, chunk);
  Vec<T, VEC> w;
  if (in_row) w = load_param<T, VEC, false>(p.weight, p.weight_stride, chunk, 1.f);
  for (int64_t first = blockIdx.x; row_group_in_range(c, first, p.rows); first += c.grid * kBatch) {
    RowPointers<T> ptrs[kBatch];
    Vec<T, VEC> x[kBatch];
    float s[kBatch];
    bool here[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int64_t row = row_of(c, first + b * c.grid, t);
      here[b] = row < p.rows && in_row;
      ptrs[b] = row_pointers<T, VARIANT>(p, row < p.rows ? row : 0);
      s[b] = 0.f;
      if (here[b]) {
        x[b] = load_row_chunk<T, VEC, VARIANT, true>(p, ptrs[b], chunk);
        s[b] += first_moment<T, VEC, VARIANT>(x[b]);
      }
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) s[b] = group_reduce(s[b], c.lanes, SumOp());
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      if (here[b]) {
        float y[VEC];
        normed_chunk<T, VEC, VARIANT>(p, chunk, x[b], w, w, 0.f, inv_rms(s[b], p.inv_hidden, p.epsilon), y,
                                      plain_gain(p));
        store_normed<T, VEC, VARIANT>(ptrs[b], chunk, y);
      }
    }
  }
}

// The kernel body: every variant, layout and launch shape (the entries below
// differ only in how they receive the launch).
// kCompact: launched as a CompactLaunch (norm_rows_compact_kernel), the
// only entry whose launches slice rows (LaunchConfig::slice_shift).
// kSplitRows: the dense-row fused add's split decode kernel
// (TargetInfo::dense_decode_split), a compact entry of its own: compiled
// into the one-vector kernel every packed Q/K-slice launch runs, the split
// path cost those launches about 1-2% at T = 1-32 (C++ harness, H100
// bf16), and this way their kernels' PTX is unchanged.
template <typename T, int VEC, int CACHED, NormVariant VARIANT, bool kCompact = false, bool kSplitRows = false>
__device__ __forceinline__ void norm_rows(const LaunchConfig& c, const NormParams& p) {
  constexpr bool kLayer = variant_centers(VARIANT);
  constexpr bool kQuant = variant_quantizes(VARIANT);
  // Dense-row kernels (LaunchConfig::dense_rows): this block's row group
  // only, no staging; weights hoisted as below.
  constexpr bool kDense = variant_dense_rows(VARIANT);
  constexpr QuantType kFormat = variant_quant_type(VARIANT);
  // RMSNorm quant with per-row scales takes the row max in the first pass
  // (max_folds_into_first_pass; uniform across the launch).
  constexpr bool kGroupScales = variant_group_scales(VARIANT);
  // Not for streamed rows (CACHED 0): there the fold pushed gfx90a's fp32
  // fused-add kernels past their SGPRs, and the max pass re-reads anyway.
  constexpr bool kFoldableMax = kQuant && !kLayer && !kGroupScales && CACHED > 0;
  // model_sensitive rounds x * inv before the gain: its max is not a
  // multiple of the first pass's, so it keeps the max pass.
  const bool fold_max = kFoldableMax && !p.model_sensitive;
  if constexpr (CACHED == 1 && VARIANT == NormVariant::kRms) {
    if (c.row_batch == kRowBatch) {
      short_rows_batched<T, VEC, VARIANT, kRowBatch>(p, c);
      return;
    }
  }
  // Dense-row kernels index a row's chunks in 32 bits (it has at most
  // kDenseRowMaxThreads * CACHED of them): 64-bit indices, compares and
  // address arithmetic were most of the instructions before a decode
  // launch's first load.
  using ChunkIndex = std::conditional_t<kDense, int, int64_t>;
  auto chunk_at = [&](int64_t k) { return static_cast<ChunkIndex>(chunk_of(c, threadIdx.x, k)); };
  auto in_row = [&](ChunkIndex chunk) { return chunk < static_cast<ChunkIndex>(c.chunks_per_row); };
  __shared__ float scratch[2][kMaxWarps];
  __shared__ SumMax pair_scratch[kFoldableMax ? 2 : 1][kMaxWarps];
  int parity = 0;
  const int t = threadIdx.x;
  const bool whole_block = c.lanes > AITER_DEVICE_WARP;
  auto row_reduce = [&](float v, auto op) {
    return whole_block ? block_reduce(v, scratch, parity, c.lanes, op) : group_reduce(v, c.lanes, op);
  };
  // Sums keep the unsplit launch's order (a max does not depend on order).
  // Only the one-vector kernels run split launches: the general kernel's
  // (TargetInfo::decode_split) gather in a static buffer, the dense-row
  // fused add's (dense_decode_split) in the dynamic shared memory its split
  // launches get (static, it would cost every packed Q/K launch).
  static_assert(!kSplitRows || (kCompact && CACHED == 1 && kDense && variant_splits_dense_decode(VARIANT)),
                "split dense rows: the fused add's compact one-vector kernel");
  constexpr bool kMaySplit = CACHED == 1 && (!kDense || kSplitRows);
  __shared__ float split_buffer[kMaySplit && !kDense ? AITER_MAX_BLOCK_THREADS : 1];
  extern __shared__ uint4 stage[];
  auto row_sum = [&](float v) {
    if (kMaySplit && c.split > 1) {
      float* buffer = kDense ? reinterpret_cast<float*>(stage) : split_buffer;
      const int logical = kDense ? unsplit_lanes(c) : c.lanes / c.split;
      return block_reduce(split_partials<kDense>(v, buffer, c, logical), scratch, parity, logical, SumOp());
    }
    return row_reduce(v, SumOp());
  };
  // The folded quant max with the sum (a split launch's sums take their own
  // path above; the max's order does not matter).
  auto row_sum_and_max = [&](float sum, float max) -> SumMax {
    if (CACHED == 1 && c.split > 1) return {row_sum(sum), row_reduce(max, MaxOp())};
    const SumMax v{sum, max};
    return whole_block ? block_reduce(v, pair_scratch, parity, c.lanes, SumMaxOp()) : group_reduce(v, c.lanes, SumMaxOp());
  };
  // Chunk slots this thread walks: the register cache (unrolled), or enough
  // to cover a streamed row. Uniform across the block.
  const int64_t slots = CACHED > 0 ? CACHED : chunk_slots(c);
  // Cached rows unroll fully (the register cache is indexed statically);
  // streamed rows keep a plain loop.
  constexpr int kUnroll = CACHED > 0 ? CACHED : 1;
  // A thread's chunks are the same in every row: short rows (many rows per
  // thread) keep their weights in registers, reloaded when a two-job launch
  // moves the thread to the other job; long rows re-read them (cache hits) to
  // leave the registers to the row itself.
  // Dense-row kernels hoist them too, so their loads go out with the row's
  // instead of a second memory round trip after the reduction (H100 bf16,
  // same run: hidden 2048-16384 at T = 1024 and 2048 3-11% faster, hidden
  // 16384 decode 12-18%, T = 8192 equal or up to 1%). The plain fused add
  // does since its rows are held as 16-byte words (64 registers; C++
  // harness, bf16 hidden 2048-16384: 6-10% faster at T = 128, up to 3% at
  // T = 8-32, T >= 1024 within 1.1%; the Q slice 3-4% faster at T = 1-8,
  // within 1% elsewhere); as Vec it took 82 and ran 6-11% slower at
  // T = 1024 and 2048. The quantising fused add hoists them only where its
  // first pass folds the max (RMSNorm-quant's first pass needs them for
  // that), LayerNorm never.
  constexpr bool kHoistWeight =
      CACHED > 0 && ((CACHED <= 2 && !kDense) || (kDense && !kLayer && (!variant_adds(VARIANT) || !kQuant)) ||
                     (kDense && kFoldableMax));
  // Dense-row kernels hold the row (and hoisted weights) as the loaded
  // 16-byte words: as Vec<T, VEC> the compiler kept one register per 16-bit
  // element (bf16, four vectors per thread: 53 -> 41 registers). The general
  // kernels' fused add spilled that way, so they keep Vec.
  using CachedChunk = std::conditional_t<kDense && sizeof(Vec<T, VEC>) == sizeof(uint4), uint4, Vec<T, VEC>>;
  CachedChunk w[kHoistWeight ? CACHED : 1];
  int hoisted_job = -1;

  // Staging (LaunchConfig::stage_rows): while a block works on one row
  // group, its next group's inputs are copied into shared memory; `buffer`
  // is where the current group's copies went (none for the first group).
  // RMSNorm-quant kernels stage every group, the first included, and read
  // their row from the buffer in both passes (keeps_row_in_shared).
  constexpr bool kRowInShared = kernel_keeps_row_in_shared<T, VEC, CACHED, VARIANT>();
  constexpr bool kStageable = kRowInShared || (AITER_ASYNC_COPY && CACHED > 0 && VEC * sizeof(T) == kVectorBytes &&
                                               variant_stages_rows(VARIANT) && !kDense);
  const bool staging = kStageable && (kRowInShared || c.stage_rows);
  int buffer = 0;
  bool current_staged = false;
  if constexpr (kRowInShared) {
    stage_row_group<T, VEC, CACHED, VARIANT>(p, c, blockIdx.x, stage, 0);
    compat_copy_async_commit();
    current_staged = true;
  }

  // Sliced decode launches (LaunchConfig::slice_shift): this block's share
  // of its row group's chunk slots, the ones it stores (and whose weights it
  // loads); it still loads and reduces them all. Compact entries only: in
  // the other entry of the fused add the slice arithmetic cost a stack frame
  // at the 64-register bound (that entry reads its launch from memory).
  // One-vector rows never slice (a slice is a chunk slot).
  constexpr bool kSliced = kCompact && kDense && CACHED >= 2 && variant_spreads_decode(VARIANT);
  const int mask = kSliced ? slice_mask(c) : 0;
  const int slice = block_slice(static_cast<int>(blockIdx.x), mask);
  auto stores_slot = [&](int k) { return !kSliced || slice_stores_slot(slice, mask, k); };
  const int64_t first_group = kSliced ? first_row_group(c, blockIdx.x) : blockIdx.x;
  for (int64_t group = first_group; row_group_in_range(c, group, p.rows); group += c.grid) {
    const int64_t row = row_of(c, group, t);
    const bool active = row < p.rows;
    RowPointers<T> ptrs = row_pointers<T, VARIANT>(p, active ? row : 0);
    // The dense-row RMSNorm kernels (plain and fused add) keep the pointers
    // they store through in registers: nvcc recomputed them at every store,
    // ~20 instructions a chunk, which a decode launch's warps (one per
    // scheduler) issue back to back. C++ harness, H100 bf16, hidden
    // 2048-16384, plain and fused add, same run: at T = 1-128 a median 2.3%
    // faster (up to 4.4%; 30 of 32 cells faster), T >= 1024 within 1.3%.
    // The one-vector fused add (the Q slice's) is left as it was: pinned, it
    // ran 0-1.5% slower in the harness and 1-2% in the benchmark (bf16 and
    // fp16, T = 1-32768). Pinning the input pointers too cost the fused add
    // 8% at hidden 2048, T = 1024.
    if constexpr (variant_takes_compact(VARIANT) && !(variant_adds(VARIANT) && CACHED == 1)) {
      compat_pin(ptrs.out);
      if constexpr (variant_adds(VARIANT)) compat_pin(ptrs.residual_out);
    }
    bool next_staged = false;
    if constexpr (kStageable) {
      if (staging) {
        // One commit per group, empty or not, so waiting for all but the
        // latest group always means the current group's copies have landed.
        next_staged = row_group_in_range(c, group + c.grid, p.rows);
        if (next_staged) stage_row_group<T, VEC, CACHED, VARIANT>(p, c, group + c.grid, stage, buffer ^ 1);
        compat_copy_async_commit();
        compat_copy_async_wait<1>();
      }
    }
    if constexpr (kHoistWeight) {
      if (ptrs.job != hoisted_job) {
#pragma unroll
        for (int k = 0; k < CACHED; ++k) {
          const ChunkIndex chunk = chunk_at(k);
          if (in_row(chunk) && stores_slot(k))
            w[k] = bit_cast_vec<CachedChunk>(load_param<T, VEC, kLayer>(ptrs.weight, ptrs.weight_stride, chunk, 1.f));
        }
        hoisted_job = ptrs.job;
      }
    }
    if constexpr (CACHED > 0 && !kHoistWeight) {
      // In a decode launch each block reads the weights once, after the
      // row's reduction: start fetching them with the row instead (H100,
      // T = 1: 0.6-1.2 us of 8-9). Other launches of the general kernel skip
      // it: ungated, it cost 4-8 points at T = 8192, and gated on a single
      // wave it appears to have cost ~4 us at T = 1024 (16.8 against 12.3 us
      // for h4096); dense-row launches lost 1.2-2.6x that way.
      if (c.prefetch_weights && active) {
#pragma unroll
        for (int k = 0; k < CACHED; ++k) {
          const ChunkIndex chunk = chunk_at(k);
          if (!in_row(chunk)) continue;
          if (ptrs.weight != nullptr)
            compat_prefetch(static_cast<const T*>(ptrs.weight) + chunk * VEC * ptrs.weight_stride);
          if (kLayer && p.bias != nullptr)
            compat_prefetch(static_cast<const T*>(p.bias) + chunk * VEC * p.bias_stride);
        }
      }
    }
    // Dense-row kernels that do not load the weights with the row load every
    // slot's weights (and LayerNorm's biases) once the first pass is done,
    // before the reductions. Loaded in the store loop, each chunk's waited
    // for the previous chunk's store (out may alias them, for all the
    // compiler knows).
    constexpr bool kEarlyParams = kDense && !kHoistWeight;
    CachedChunk early_w[kEarlyParams ? CACHED : 1];
    CachedChunk early_b[kEarlyParams && kLayer ? CACHED : 1];
    auto weight_of = [&](int64_t k, int64_t chunk) {
      if constexpr (kHoistWeight) return bit_cast_vec<Vec<T, VEC>>(w[k]);
      else if constexpr (kEarlyParams) return bit_cast_vec<Vec<T, VEC>>(early_w[k]);
      else return load_param<T, VEC, kLayer>(ptrs.weight, ptrs.weight_stride, chunk, 1.f);
    };
    auto bias_of = [&](int64_t k, int64_t chunk) {
      if constexpr (!kLayer) return Vec<T, VEC>{};
      else if constexpr (kEarlyParams) return bit_cast_vec<Vec<T, VEC>>(early_b[k]);
      else return load_param<T, VEC>(p.bias, p.bias_stride, chunk, 0.f);
    };
    CachedChunk x[CACHED > 0 && !kRowInShared ? CACHED : 1];
    // The row's values for chunk slot k, after the first pass: the staging
    // buffer, the register cache, or a re-read of a streamed row.
#define AITER_ROW_CHUNK(k, chunk)                                                                    \
  (kRowInShared ? staged_row_chunk<kRowInShared, T, VEC, CACHED>(stage, buffer, static_cast<int>(k)) \
   : CACHED > 0 ? bit_cast_vec<Vec<T, VEC>>(x[(CACHED > 0 && !kRowInShared) ? (k) : 0])              \
                : reload_row_chunk<T, VEC, VARIANT>(p, ptrs, (chunk)))

    // Dense-row kernels issue all of the row's loads before using any: in
    // one loop with the sums, each guarded load was waited for before the
    // next went out (PTX branches around every chunk).
    //
    // Dense-row RMSNorm kernels without the residual add take every slot
    // through the first pass, without a branch per chunk: a slot outside the
    // row is loaded as zeros and adds nothing to the sums (the fused add
    // stores there, and LayerNorm's x_bias is read there). Zeroing the slots
    // of the fused add's two inputs made nvcc wait for each load before the
    // next (H100 bf16 h4096 decode: 6.5 -> 9.5 us), so they are not zeroed;
    // nor are RMSNorm-quant's: with them its four-vector kernels took 24-88
    // bytes of stack at their 64 registers (H100, dynamic int8 h4096,
    // T = 8192: 91% -> 72% of copy).
    constexpr bool kEverySlot = kDense && !variant_adds(VARIANT) && !kLayer && !kQuant;
    RowInputs<T, VEC> loaded[kDense ? CACHED : 1];
    if constexpr (kDense) {
#pragma unroll
      for (int k = 0; k < CACHED; ++k) {
        const ChunkIndex chunk = chunk_at(k);
        if (active && in_row(chunk)) loaded[k] = load_row_inputs<T, VEC, VARIANT>(ptrs, chunk);
        else if constexpr (kEverySlot) loaded[k] = RowInputs<T, VEC>{};
      }
    }

    // Pass 1: prologue (+ residual_out) and the first statistic, and the
    // per-row quant max where it folds in.
    float s = 0.f;
    float prenorm_max = 0.f;
#pragma unroll kUnroll
    for (int64_t k = 0; k < slots; ++k) {
      const ChunkIndex chunk = chunk_at(k);
      const bool here = active && in_row(chunk);
      if (kEverySlot || here) {
        RowInputs<T, VEC> in;
        if constexpr (kDense) {
          in = loaded[kDense ? k : 0];
        } else if constexpr (kStageable) {
          if (kRowInShared || current_staged)
            in = read_staged_inputs<T, VEC, CACHED>(stage, buffer, static_cast<int>(k));
          else in = load_row_inputs<T, VEC, VARIANT>(ptrs, chunk);
        } else {
          in = load_row_inputs<T, VEC, VARIANT>(ptrs, chunk);
        }
        const Vec<T, VEC> v = combine_row_chunk<T, VEC, VARIANT, true>(p, ptrs, chunk, in, stores_slot(k));
        if constexpr (CACHED > 0 && !kRowInShared) x[k] = bit_cast_vec<CachedChunk>(v);
        s += first_moment<T, VEC, VARIANT>(v);
        if (fold_max) {
          float pre[VEC];
          prenorm_chunk<T, VEC, VARIANT>(p, chunk, v, weight_of(k, chunk), pre);
          prenorm_max = fmaxf(prenorm_max, chunk_abs_max<VEC>(pre));
        }
      }
    }
    if constexpr (kEarlyParams) {
#pragma unroll
      for (int k = 0; k < CACHED; ++k) {
        const ChunkIndex chunk = chunk_at(k);
        if (active && in_row(chunk)) {
          early_w[k] = bit_cast_vec<CachedChunk>(load_param<T, VEC, kLayer>(ptrs.weight, ptrs.weight_stride, chunk, 1.f));
          if constexpr (kLayer) early_b[k] = bit_cast_vec<CachedChunk>(load_param<T, VEC>(p.bias, p.bias_stride, chunk, 0.f));
        }
      }
    }
    if constexpr (kFoldableMax) {
      const SumMax r = row_sum_and_max(s, prenorm_max);
      s = r.sum;
      prenorm_max = r.max;
    } else {
      s = row_sum(s);
    }
    float mean = 0.f;
    if constexpr (kLayer) {
      // Pass 2 (LayerNorm): squared deviations from the mean, so the variance
      // does not cancel when |mean| >> std.
      mean = s / static_cast<float>(p.hidden);
      s = 0.f;
#pragma unroll kUnroll
      for (int64_t k = 0; k < slots; ++k) {
        const ChunkIndex chunk = chunk_at(k);
        if (active && in_row(chunk)) s += squared_deviations<T, VEC, VARIANT>(AITER_ROW_CHUNK(k, chunk), mean);
      }
      s = row_sum(s);
    }
    const float inv = inv_rms(s, p.inv_hidden, p.epsilon);

    if constexpr (!kQuant) {
      // The store pass, once per gain formula (plain_gain), chosen per row:
      // with the choice made per chunk, the rare formula sat inline and every
      // chunk jumped over it, an instruction fetch each at decode sizes.
      auto store_pass = [&](auto plain) {
#pragma unroll kUnroll
        for (int64_t k = 0; k < slots; ++k) {
          const ChunkIndex chunk = chunk_at(k);
          if (active && in_row(chunk) && stores_slot(static_cast<int>(k))) {
            float y[VEC];
            normed_chunk<T, VEC, VARIANT>(p, chunk, AITER_ROW_CHUNK(k, chunk), weight_of(k, chunk), bias_of(k, chunk),
                                          mean, inv, y, decltype(plain)::value);
            store_normed<T, VEC, VARIANT>(ptrs, chunk, y);
          }
        }
      };
      if (kLayer || plain_gain(p)) store_pass(std::true_type{});
      else store_pass(std::false_type{});
    } else if constexpr (!kGroupScales) {
      // Per-row scale: from the first pass's max where it folds, else from a
      // max pass over recomputed y (LayerNorm, model_sensitive, streamed
      // rows); then the store pass recomputes what it quantises. Keeping y in
      // registers instead (VEC * CACHED floats) was equal for per-row scales
      // and cost the per-group path 14% through the higher register count
      // (H100, bf16 h4096).
      float scale;
      if (fold_max) {
        scale = folded_row_scale(prenorm_max, inv, p.inv_qmax);
      } else {
        float amax = 0.f;
#pragma unroll kUnroll
        for (int64_t k = 0; k < slots; ++k) {
          const ChunkIndex chunk = chunk_at(k);
          if (active && in_row(chunk)) {
            float y[VEC];
            normed_chunk<T, VEC, VARIANT>(p, chunk, AITER_ROW_CHUNK(k, chunk), weight_of(k, chunk), bias_of(k, chunk), mean,
                                        inv, y, plain_gain(p));
            amax = fmaxf(amax, chunk_abs_max<VEC>(y));
          }
        }
        scale = dynamic_scale(row_reduce(amax, MaxOp()), p.inv_qmax);
      }
      const float inv_scale = inverse_scale(scale);
      if (active && chunk_of(c, t, 0) == 0) ptrs.yscale[0] = scale;
#pragma unroll kUnroll
      for (int64_t k = 0; k < slots; ++k) {
        const ChunkIndex chunk = chunk_at(k);
        if (active && in_row(chunk)) {
          float v[VEC];
          if (fold_max) {
            prenorm_chunk<T, VEC, VARIANT>(p, chunk, AITER_ROW_CHUNK(k, chunk), weight_of(k, chunk), v);
            if (ptrs.unquant != nullptr) store_unquantized<T, VEC>(ptrs, chunk, v, inv);
            store_quantized<T, VEC, kFormat>(ptrs, chunk, v, folded_quant_factor(inv, inv_scale));
          } else {
            normed_chunk<T, VEC, VARIANT>(p, chunk, AITER_ROW_CHUNK(k, chunk), weight_of(k, chunk), bias_of(k, chunk), mean,
                                        inv, v, plain_gain(p));
            if (ptrs.unquant != nullptr) store_unquantized<T, VEC>(ptrs, chunk, v, 1.f);
            store_quantized<T, VEC, kFormat>(ptrs, chunk, v, inv_scale);
          }
        }
      }
    } else {
      // Per-group scales: a group is group_lanes adjacent lanes' chunk k, so
      // each slot reduces its own group with shuffles (every lane joins).
      // group_lanes is a power of two (unsupported_launch), as is lanes
      // (chunk_of masks a thread index with lanes - 1), so
      // chunk k's group is this lane's first group plus k * (lanes /
      // group_lanes), and the lane that stores a group's scale is the same
      // for every slot: one pointer step per slot, not a 64-bit shift and
      // multiply.
      const int lane = t & (c.lanes - 1);
      const int group_shift = compat_ffs(c.group_lanes) - 1;
      const bool stores_scale = (lane & (c.group_lanes - 1)) == 0;
      float* scale_out = ptrs.yscale + (lane >> group_shift) * p.yscale_group_stride;
      const int64_t scale_slot_step = (c.lanes >> group_shift) * p.yscale_group_stride;
#pragma unroll kUnroll
      for (int64_t k = 0; k < slots; ++k, scale_out += scale_slot_step) {
        const ChunkIndex chunk = chunk_at(k);
        const bool here = active && in_row(chunk);
        float y[VEC];
        float amax = 0.f;
        if (here) {
          normed_chunk<T, VEC, VARIANT>(p, chunk, AITER_ROW_CHUNK(k, chunk), weight_of(k, chunk), bias_of(k, chunk), mean,
                                        inv, y, plain_gain(p));
          amax = chunk_abs_max<VEC>(y);
        }
        amax = group_reduce(amax, c.group_lanes, MaxOp());
        if (here) {
          const float scale = dynamic_scale(amax, p.inv_qmax);
          if (stores_scale) *scale_out = scale;
          if (ptrs.unquant != nullptr) store_unquantized<T, VEC>(ptrs, chunk, y, 1.f);
          store_quantized<T, VEC, kFormat>(ptrs, chunk, y, inverse_scale(scale));
        }
      }
    }
#undef AITER_ROW_CHUNK
    if constexpr (kDense) break;  // one row group per block
    buffer ^= 1;
    current_staged = next_staged;
  }
}

template <typename T, int VEC, int CACHED, NormVariant VARIANT>
__global__ void __launch_bounds__(max_block_threads(CACHED * VEC * sizeof(T), VARIANT))
    norm_rows_kernel(const LaunchConfig c, const NormParams p) {
  norm_rows<T, VEC, CACHED, VARIANT>(c, p);
}

template <typename T>
AITER_HD constexpr DType kernel_dtype() {
  return sizeof(T) == 4 ? DType::kFloat32 : std::is_same<T, compat_bf16>::value ? DType::kBFloat16 : DType::kFloat16;
}

// Dense-row RMSNorm launches (variant_takes_compact): the same body, given
// the launch in CompactLaunch's bytes (compact_params.h says why).
template <typename T, int VEC, int CACHED, NormVariant VARIANT, bool kSplitRows = false>
__global__ void __launch_bounds__(max_block_threads(CACHED * VEC * sizeof(T), VARIANT))
    norm_rows_compact_kernel(const CompactLaunch k) {
  norm_rows<T, VEC, CACHED, VARIANT, true, kSplitRows>(
      expanded_config(k, VEC, CACHED, static_cast<int>(blockDim.x), gridDim.x),
      expanded_params(k, kernel_dtype<T>(), VARIANT, VEC));
}

// Resident blocks per SM of one kernel instantiation at a block size, with
// or without its staging buffer (whose size follows from the two), asked
// once per (instantiation, power-of-two block size, staging) and cached (one
// GPU model per process). The cache is per instantiation: kernels differ in
// registers (one shared cache sized grids from another kernel's occupancy).
template <typename T, int VEC, int CACHED, NormVariant VARIANT>
int resident_blocks_per_sm(int threads, int64_t shared_bytes) {
  static int cache[2][11] = {};
  int slot = 0;
  while ((1 << slot) < threads && slot < 10) ++slot;
  int* cached = &cache[shared_bytes > 0 ? 1 : 0][slot];
  int blocks = __atomic_load_n(cached, __ATOMIC_RELAXED);
  if (blocks == 0) {
    const auto kernel = norm_rows_kernel<T, VEC, CACHED, VARIANT>;
    const size_t bytes = static_cast<size_t>(shared_bytes);
#if defined(AITER_HIP)
    if (hipOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads, bytes) != hipSuccess) blocks = 1;
#else
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads, bytes) != cudaSuccess) blocks = 1;
#endif
    if (blocks < 1) blocks = 1;
    __atomic_store_n(cached, blocks, __ATOMIC_RELAXED);
  }
  return blocks;
}

// Instantiated only where the row slice a thread caches fits max_cached_bytes.
// Dense-row kernels exist for cached rows of 16-byte vectors only.
template <typename T, int VEC, int CACHED, NormVariant VARIANT>
int launch_cached(const NormParams& p, LaunchConfig c, int sm_count, compat_stream_t stream) {
  constexpr bool kBuilt = CACHED <= kMaxCachedChunks && CACHED * VEC * sizeof(T) <= max_cached_bytes(VARIANT) &&
                          (!variant_dense_rows(VARIANT) || (CACHED > 0 && VEC * sizeof(T) == kVectorBytes));
  if constexpr (kBuilt) {
    int64_t shared = AITER_ASYNC_COPY && c.stage_rows ? stage_bytes(c, VARIANT, VEC * sizeof(T)) : 0;
#if AITER_ASYNC_COPY
    if (shared > kStaticSharedLimit) {
      // Above 48 KiB a kernel must opt in (once per instantiation).
      static const bool opted_in = cudaFuncSetAttribute(norm_rows_kernel<T, VEC, CACHED, VARIANT>,
                                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                        static_cast<int>(kMaxStageBytes)) == cudaSuccess;
      if (!opted_in) shared = 0;
    }
#endif
    set_grid(&c, p.rows, sm_count, resident_blocks_per_sm<T, VEC, CACHED, VARIANT>(c.threads, shared));
    if (shared == 0) c.stage_rows = 0;
    settle_staging(&c, p.rows, VARIANT);
    if (!c.stage_rows) shared = 0;
    // A kernel that keeps its row in shared memory cannot run without it
    // (no staging buffer here): the streamed kernel reads rows from global.
    if (kernel_keeps_row_in_shared<T, VEC, CACHED, VARIANT>() && shared == 0) {
      LaunchConfig streamed = c;
      streamed.chunks = 0;
      streamed.stage_rows = 0;
      return launch_cached<T, VEC, 0, VARIANT>(p, streamed, sm_count, stream);
    }
    if constexpr (variant_takes_compact(VARIANT)) {
      if (compact_launch_fits(p, c)) {
        const dim3 grid(static_cast<unsigned>(c.grid));
        if constexpr (CACHED == 1 && variant_splits_dense_decode(VARIANT)) {
          if (c.split > 1) {
            // Partial sums gathered in dynamic shared memory (split_partials).
            const size_t gather = static_cast<size_t>(c.threads) * sizeof(float);
            AITER_LAUNCH(grid, dim3(c.threads), gather, stream, norm_rows_compact_kernel<T, VEC, CACHED, VARIANT, true>)(
                compact_launch(p, c));
            return 0;
          }
        }
        AITER_LAUNCH(grid, dim3(c.threads), 0, stream, norm_rows_compact_kernel<T, VEC, CACHED, VARIANT>)(compact_launch(p, c));
        return 0;
      }
    }
    // Only the compact entry slices or splits dense rows (decode launches,
    // whose few rows always fit the compact block).
    if (c.dense_rows && c.split > 1) return -1;
    unslice(&c);
    AITER_LAUNCH(dim3(static_cast<unsigned>(c.grid)), dim3(c.threads), static_cast<size_t>(shared), stream,
                 norm_rows_kernel<T, VEC, CACHED, VARIANT>)(c, p);
    return 0;
  } else {
    return -1;
  }
}

template <typename T, int VEC, NormVariant VARIANT>
int launch_with_vec(const NormParams& p, const LaunchConfig& c, int sm_count, compat_stream_t stream) {
  switch (c.chunks) {
    case 0: return launch_cached<T, VEC, 0, VARIANT>(p, c, sm_count, stream);
    case 1: return launch_cached<T, VEC, 1, VARIANT>(p, c, sm_count, stream);
    case 2: return launch_cached<T, VEC, 2, VARIANT>(p, c, sm_count, stream);
    case 4: return launch_cached<T, VEC, 4, VARIANT>(p, c, sm_count, stream);
    case 8: return launch_cached<T, VEC, 8, VARIANT>(p, c, sm_count, stream);
  }
  return -1;
}

template <typename T, NormVariant VARIANT>
int launch_with_variant(const NormParams& p, const LaunchConfig& c, int sm_count, compat_stream_t stream);

// A quantising variant's kernel for the requested output format.
template <typename T, NormVariant VARIANT>
int launch_with_format(const NormParams& p, const LaunchConfig& c, int sm_count, compat_stream_t stream) {
  switch (p.quant) {
    case QuantType::kInt8:
      return launch_with_variant<T, with_quant_type(VARIANT, QuantType::kInt8)>(p, c, sm_count, stream);
    case QuantType::kFp8E4M3Fn:
      return launch_with_variant<T, with_quant_type(VARIANT, QuantType::kFp8E4M3Fn)>(p, c, sm_count, stream);
    case QuantType::kFp8E4M3Fnuz:
      return launch_with_variant<T, with_quant_type(VARIANT, QuantType::kFp8E4M3Fnuz)>(p, c, sm_count, stream);
    default: return -1;
  }
}

// A variant as NormParams names it (quantising ones without their format,
// scale granularity and xscale), down to one kernel: with or without the
// smooth xscale, per-row or per-group scales (RMSNorm quant only), then the
// output format, then vector width and cache.
template <typename T, NormVariant VARIANT>
int launch_with_variant(const NormParams& p, const LaunchConfig& c, int sm_count, compat_stream_t stream) {
  constexpr bool kUnresolvedQuant = variant_quantizes(VARIANT) && variant_quant_type(VARIANT) == QuantType::kNone;
  if constexpr (kUnresolvedQuant && !variant_smooths(VARIANT)) {
    if (p.xscale != nullptr) return launch_with_variant<T, with_smooth(VARIANT)>(p, c, sm_count, stream);
  }
  if constexpr (kUnresolvedQuant && !variant_centers(VARIANT) && !variant_group_scales(VARIANT)) {
    if (p.group_size > 0) return launch_with_format<T, with_group_scales(VARIANT)>(p, c, sm_count, stream);
    return launch_with_format<T, VARIANT>(p, c, sm_count, stream);
  } else if constexpr (kUnresolvedQuant) {
    if (variant_centers(VARIANT) && p.group_size > 0) return -1;  // LayerNorm quant: per-row scales only
    return launch_with_format<T, VARIANT>(p, c, sm_count, stream);
  } else {
    constexpr int kFull = kVectorBytes / sizeof(T);
    if constexpr (variant_has_dense_kernel(VARIANT)) {
      if (c.dense_rows) return launch_with_vec<T, kFull, with_dense_rows(VARIANT)>(p, c, sm_count, stream);
    }
    if (c.vec == kFull) return launch_with_vec<T, kFull, VARIANT>(p, c, sm_count, stream);
    if (c.vec == 1) return launch_with_vec<T, 1, VARIANT>(p, c, sm_count, stream);
    return -1;
  }
}

// One explicit instantiation of launch_with_variant per (dtype, variant)
// lives in the per-family .cu files (norm_rows_*, norm_quant_*, norm_layer_*),
// so a parallel build compiles them side by side.
#define AITER_FOR_EACH_VARIANT(X)                                                                          \
  X(kRms) X(kAddRms) X(kRmsQuant) X(kAddRmsQuant) X(kLayer) X(kAddLayer) X(kLayerQuant) X(kAddLayerQuant) \
  X(kQkRms)

#define AITER_DECLARE_VARIANT_LAUNCH(T, V)                                                   \
  extern template int launch_with_variant<T, NormVariant::V>(const NormParams&, const LaunchConfig&, \
                                                             int, compat_stream_t);
#define AITER_INSTANTIATE_VARIANT_LAUNCH(T, V)                                       \
  template int launch_with_variant<T, NormVariant::V>(const NormParams&, const LaunchConfig&, \
                                                      int, compat_stream_t);

template <typename T>
int launch_norm_rows_typed(const NormParams& p, const LaunchConfig& c, int sm_count, compat_stream_t stream) {
  switch (p.variant) {
#define AITER_VARIANT_CASE(V) \
  case NormVariant::V: return launch_with_variant<T, NormVariant::V>(p, c, sm_count, stream);
    AITER_FOR_EACH_VARIANT(AITER_VARIANT_CASE)
#undef AITER_VARIANT_CASE
  }
  return -1;
}

}  // namespace aiter
