// One templated kernel for every row-norm variant, layout and row length.
//   T        storage dtype (float, half, bf16)
//   VEC      elements per global access (16 bytes' worth, or 1 for the scalar path)
//   CACHED   vectors per thread kept in registers (row read once); 0 = streamed
//   VARIANT  prologue/epilogue: plain RMSNorm, or fused residual add first
// Rows are addressed through each tensor's own RowLayout, so any view whose
// last dim has stride 1 is read in place.
#pragma once
#include "compat.h"
#include "launch_config.h"
#include "norm_math.h"

namespace aiter {

template <typename T, int VEC>
struct alignas(sizeof(T) * VEC) Vec {
  T v[VEC];
};

template <typename T>
struct RoundTo {
  __device__ __forceinline__ float operator()(float v) const { return to_float(from_float<T>(v)); }
};

// Sum over the `width` lanes of a sub-group (width <= warp).
__device__ __forceinline__ float group_sum(float v, int width) {
  for (int m = width >> 1; m > 0; m >>= 1) v += compat_shfl_xor(v, m, width);
  return v;
}

// Sum over the whole block (one row per block). `parity` alternates the
// scratch buffer so one barrier per row suffices.
__device__ __forceinline__ float block_sum(float v, float (*scratch)[AITER_MAX_BLOCK_THREADS / AITER_DEVICE_WARP],
                                           int& parity) {
  v = group_sum(v, AITER_DEVICE_WARP);
  const int warp_id = threadIdx.x / AITER_DEVICE_WARP;
  if (threadIdx.x % AITER_DEVICE_WARP == 0) scratch[parity][warp_id] = v;
  __syncthreads();
  float total = 0.f;
  const int warps = blockDim.x / AITER_DEVICE_WARP;
  for (int i = 0; i < warps; ++i) total += scratch[parity][i];
  parity ^= 1;
  return total;
}

// Row data is read once: the load skips L1. Re-reads of values this kernel
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

template <typename T, int VEC>
__device__ __forceinline__ Vec<T, VEC> load_weight(const NormParams& p, int64_t chunk) {
  const T* w = static_cast<const T*>(p.weight);
  if (VEC > 1) return load_vec_coherent<T, VEC>(w, chunk * VEC);  // launcher ensured stride 1
  Vec<T, VEC> r;
  r.v[0] = w[chunk * p.weight_stride];
  return r;
}

// Each tensor's start of one row, computed once per row.
template <typename T>
struct RowPointers {
  const T* input;
  const T* residual_in;
  T* out;
  T* residual_out;
};

template <typename T, NormVariant VARIANT>
__device__ __forceinline__ RowPointers<T> row_pointers(const NormParams& p, int64_t row) {
  RowPointers<T> r;
  r.input = static_cast<const T*>(p.input) + row_offset(p.input_rows, row);
  r.out = static_cast<T*>(p.out) + row_offset(p.out_rows, row);
  if constexpr (VARIANT == NormVariant::kAddRms) {
    r.residual_in = static_cast<const T*>(p.residual_in) + row_offset(p.residual_in_rows, row);
    r.residual_out = static_cast<T*>(p.residual_out) + row_offset(p.residual_out_rows, row);
  } else {
    r.residual_in = nullptr;
    r.residual_out = nullptr;
  }
  return r;
}

// Prologue: the row values the norm is taken over, for one chunk. For the
// fused add this also stores residual_out (rounded to T, as the norm sees it).
template <typename T, int VEC, NormVariant VARIANT>
__device__ __forceinline__ Vec<T, VEC> load_row_chunk(const RowPointers<T>& r, int64_t chunk) {
  Vec<T, VEC> x = load_vec<T, VEC>(r.input, chunk * VEC);
  if constexpr (VARIANT == NormVariant::kAddRms) {
    const Vec<T, VEC> res = load_vec<T, VEC>(r.residual_in, chunk * VEC);
#pragma unroll
    for (int i = 0; i < VEC; ++i) x.v[i] = from_float<T>(to_float(x.v[i]) + to_float(res.v[i]));
    store_vec<T, VEC>(r.residual_out, chunk * VEC, x);
  }
  return x;
}

// Where pass two of a streamed row re-reads its values from.
template <typename T, int VEC, NormVariant VARIANT>
__device__ __forceinline__ Vec<T, VEC> reload_row_chunk(const RowPointers<T>& r, int64_t chunk) {
  if constexpr (VARIANT == NormVariant::kAddRms)
    return load_vec_coherent<T, VEC>(r.residual_out, chunk * VEC);
  else
    return load_vec<T, VEC>(r.input, chunk * VEC);
}

template <typename T, int VEC>
__device__ __forceinline__ float sum_squares(const Vec<T, VEC>& x) {
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < VEC; ++i) {
    const float f = to_float(x.v[i]);
    s += f * f;
  }
  return s;
}

// Epilogue: weight, optional T5-style rounding, store.
template <typename T, int VEC>
__device__ __forceinline__ void store_normed(const NormParams& p, const RowPointers<T>& r,
                                             int64_t chunk, const Vec<T, VEC>& x,
                                             const Vec<T, VEC>& w, float inv) {
  Vec<T, VEC> y;
  if (!p.gemma && !p.model_sensitive) {  // the common case, without per-element selects
#pragma unroll
    for (int i = 0; i < VEC; ++i) y.v[i] = from_float<T>(to_float(x.v[i]) * inv * to_float(w.v[i]));
  } else {
#pragma unroll
    for (int i = 0; i < VEC; ++i)
      y.v[i] = from_float<T>(scale_element(to_float(x.v[i]), inv, to_float(w.v[i]), p.gemma,
                                           p.model_sensitive, RoundTo<T>()));
  }
  store_vec<T, VEC>(r.out, chunk * VEC, y);
}

template <typename T, int VEC, int CACHED, NormVariant VARIANT>
__global__ void __launch_bounds__(max_block_threads(CACHED * VEC * sizeof(T)))
    norm_rows_kernel(const NormParams p, const LaunchConfig c) {
  __shared__ float scratch[2][AITER_MAX_BLOCK_THREADS / AITER_DEVICE_WARP];
  int parity = 0;
  const int t = threadIdx.x;
  const bool whole_block = c.lanes > AITER_DEVICE_WARP;
  // A thread's chunks are the same in every row: short rows (many rows per
  // thread) keep their weights in registers; long rows re-read them (cache hits)
  // to leave the registers to the row itself.
  constexpr bool kHoistWeight = CACHED > 0 && CACHED <= 2;
  Vec<T, VEC> w[kHoistWeight ? CACHED : 1];
  if constexpr (kHoistWeight) {
#pragma unroll
    for (int k = 0; k < CACHED; ++k) {
      const int64_t chunk = chunk_of(c, t, k);
      if (chunk_in_row(c, chunk)) w[k] = load_weight<T, VEC>(p, chunk);
    }
  }

  if constexpr (CACHED > 0) {
    // The row is read once, into registers, then reduced and written.
    for (int64_t group = blockIdx.x; row_group_in_range(c, group, p.rows); group += c.grid) {
      const int64_t row = row_of(c, group, t);
      const bool active = row < p.rows;
      const RowPointers<T> ptrs = row_pointers<T, VARIANT>(p, active ? row : 0);
      Vec<T, VEC> x[CACHED];
      float ss = 0.f;
#pragma unroll
      for (int k = 0; k < CACHED; ++k) {
        const int64_t chunk = chunk_of(c, t, k);
        if (active && chunk_in_row(c, chunk)) {
          x[k] = load_row_chunk<T, VEC, VARIANT>(ptrs, chunk);
          ss += sum_squares<T, VEC>(x[k]);
        }
      }
      ss = whole_block ? block_sum(ss, scratch, parity) : group_sum(ss, c.lanes);
      const float inv = inv_rms(ss, p.hidden, p.epsilon);
#pragma unroll
      for (int k = 0; k < CACHED; ++k) {
        const int64_t chunk = chunk_of(c, t, k);
        if (active && chunk_in_row(c, chunk))
          store_normed<T, VEC>(p, ptrs, chunk, x[k],
                               kHoistWeight ? w[k] : load_weight<T, VEC>(p, chunk), inv);
      }
    }
    return;
  }
  // Streamed rows (too long for registers): two passes over memory.
  const int64_t slots = chunk_slots(c);
  for (int64_t group = blockIdx.x; row_group_in_range(c, group, p.rows); group += c.grid) {
    const int64_t row = row_of(c, group, t);
    const bool active = row < p.rows;
    const RowPointers<T> ptrs = row_pointers<T, VARIANT>(p, active ? row : 0);
    float ss = 0.f;
    for (int64_t k = 0; k < slots; ++k) {
      const int64_t chunk = chunk_of(c, t, k);
      if (active && chunk_in_row(c, chunk))
        ss += sum_squares<T, VEC>(load_row_chunk<T, VEC, VARIANT>(ptrs, chunk));
    }
    ss = whole_block ? block_sum(ss, scratch, parity) : group_sum(ss, c.lanes);
    const float inv = inv_rms(ss, p.hidden, p.epsilon);
    for (int64_t k = 0; k < slots; ++k) {
      const int64_t chunk = chunk_of(c, t, k);
      if (active && chunk_in_row(c, chunk))
        store_normed<T, VEC>(p, ptrs, chunk, reload_row_chunk<T, VEC, VARIANT>(ptrs, chunk),
                             load_weight<T, VEC>(p, chunk), inv);
    }
  }
}

// Resident blocks per SM of one kernel instantiation at a block size, asked
// once per (instantiation, power-of-two block size) and cached (one GPU model
// per process). The cache is per instantiation: kernels differ in registers.
template <typename T, int VEC, int CACHED, NormVariant VARIANT>
int resident_blocks_per_sm(int threads) {
  static int cache[11] = {0};
  int slot = 0;
  while ((1 << slot) < threads && slot < 10) ++slot;
  int blocks = __atomic_load_n(&cache[slot], __ATOMIC_RELAXED);
  if (blocks == 0) {
    const auto kernel = norm_rows_kernel<T, VEC, CACHED, VARIANT>;
#if defined(AITER_HIP)
    if (hipOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads, 0) != hipSuccess) blocks = 1;
#else
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads, 0) != cudaSuccess) blocks = 1;
#endif
    if (blocks < 1) blocks = 1;
    __atomic_store_n(&cache[slot], blocks, __ATOMIC_RELAXED);
  }
  return blocks;
}

// Instantiated only where the row slice a thread caches fits max_cached_bytes.
template <typename T, int VEC, int CACHED, NormVariant VARIANT>
int launch_cached(const NormParams& p, LaunchConfig c, int sm_count, compat_stream_t stream) {
  if constexpr (CACHED <= kMaxCachedChunks && CACHED * VEC * sizeof(T) <= max_cached_bytes(VARIANT)) {
    set_grid(&c, p.rows, sm_count, resident_blocks_per_sm<T, VEC, CACHED, VARIANT>(c.threads));
    norm_rows_kernel<T, VEC, CACHED, VARIANT><<<dim3(static_cast<unsigned>(c.grid)), dim3(c.threads), 0, stream>>>(p, c);
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
int launch_with_variant(const NormParams& p, const LaunchConfig& c, int sm_count, compat_stream_t stream) {
  constexpr int kFull = kVectorBytes / sizeof(T);
  if (c.vec == kFull) return launch_with_vec<T, kFull, VARIANT>(p, c, sm_count, stream);
  if (c.vec == 1) return launch_with_vec<T, 1, VARIANT>(p, c, sm_count, stream);
  return -1;
}

template <typename T>
int launch_norm_rows_typed(const NormParams& p, const LaunchConfig& c, int sm_count, compat_stream_t stream) {
  switch (p.variant) {
    case NormVariant::kRms: return launch_with_variant<T, NormVariant::kRms>(p, c, sm_count, stream);
    case NormVariant::kAddRms: return launch_with_variant<T, NormVariant::kAddRms>(p, c, sm_count, stream);
  }
  return -1;
}

}  // namespace aiter
