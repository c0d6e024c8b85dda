// HIP's device API, as much of it as the kernels use, for the CPU SIMT
// executor: compat.h includes this under AITER_SIMT_CPU instead of the HIP
// headers, so the unmodified kernel sources compile with a host compiler and
// each GPU thread runs as a fiber (simt_runtime.h).
//
// Semantics follow HIP on gfx9: __shfl_xor as HIP computes its source lane,
// fp16 / bf16 conversions rounding to nearest even, no asynchronous copies.
// AITER_SIMT_WARP (64 for gfx942 / gfx90a, 32 for CUDA-shaped launches) is
// the wave width, fixed per executor build.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#ifndef AITER_SIMT_WARP
#error "AITER_SIMT_WARP (the wave width) must be defined for the SIMT executor build"
#endif

#include "simt_runtime.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __restrict__ __restrict
// Static shared memory: one instance per OS thread, and the executor runs a
// block's fibers on one OS thread, one block at a time, so every thread of a
// block sees the same array (as the next block does, uninitialised, on a GPU).
// Dynamic shared memory (extern __shared__) is defined by the executor
// (simt_shared.cpp) at the size of gfx942's LDS.
#define __shared__ thread_local
#define warpSize AITER_SIMT_WARP

#define threadIdx (::aiter_simt::thread_index())
#define blockIdx (::aiter_simt::block_index())
#define blockDim (::aiter_simt::block_dim())
#define gridDim (::aiter_simt::grid_dim())
// A barrier for every thread of the block; its call site is recorded so a
// barrier reached from two places is reported (divergence).
#define __syncthreads() ::aiter_simt::syncthreads(__FILE__, __LINE__)

using dim3 = ::aiter_simt::dim3;
using hipStream_t = struct aiter_simt_stream*;
enum hipError_t { hipSuccess = 0, hipErrorInvalidValue = 1 };

// The occupancy the executor reports for a launch shape (simt_runtime.cpp
// says how it is modelled).
template <typename Kernel>
inline hipError_t hipOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, Kernel, int threads, size_t shared) {
  *blocks = ::aiter_simt::occupancy_blocks(threads, shared);
  return hipSuccess;
}

// --- vector types -----------------------------------------------------------
struct float2 {
  float x, y;
};
inline float2 make_float2(float x, float y) { return float2{x, y}; }
struct alignas(16) uint4 {
  unsigned int x, y, z, w;
};

inline float __uint_as_float(unsigned int u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline unsigned int __float_as_uint(float f) {
  unsigned int u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// 1-based index of the lowest set bit, 0 for 0.
inline int __ffs(int v) { return __builtin_ffs(v); }

// --- fp16 and bf16 ------------------------------------------------------------
struct alignas(2) __half {
  uint16_t data;
};
struct alignas(4) __half2 {
  __half x, y;
};
struct alignas(2) __hip_bfloat16 {
  uint16_t data;
};

namespace aiter_simt {
// IEEE binary16 from binary32, round to nearest even: subnormals, overflow
// to infinity, NaN kept quiet with its sign.
inline uint16_t half_bits(float f) {
  const uint32_t x = __float_as_uint(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  if (ax < 0x38800000u) {  // below 2^-14: a multiple of 2^-24, exact after the scaling
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(__uint_as_float(ax) * 16777216.0f)));
  }
  // Rebias (127 -> 15) and round 23 mantissa bits to 10; a carry moves into
  // the exponent, and past 65504 into infinity.
  const uint32_t m = ax - 0x38000000u;
  const uint32_t r = (m + 0xfffu + ((m >> 13) & 1u)) >> 13;
  return static_cast<uint16_t>(sign | (r > 0x7c00u ? 0x7c00u : r));
}

inline float half_value(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: man * 2^-24
    const float v = static_cast<float>(man) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  if (exp == 0x1fu) return __uint_as_float(sign | 0x7f800000u | (man << 13));
  return __uint_as_float(sign | ((exp + 112u) << 23) | (man << 13));
}

// bf16 from fp32, round to nearest even; NaN stays NaN (quiet, sign kept).
inline uint16_t bf16_bits(float f) {
  const uint32_t x = __float_as_uint(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
}  // namespace aiter_simt

inline float __half2float(__half h) { return ::aiter_simt::half_value(h.data); }
inline __half __float2half_rn(float f) { return __half{::aiter_simt::half_bits(f)}; }
inline float2 __half22float2(__half2 h) { return make_float2(__half2float(h.x), __half2float(h.y)); }
inline __half2 __floats2half2_rn(float lo, float hi) { return __half2{__float2half_rn(lo), __float2half_rn(hi)}; }
inline float __bfloat162float(__hip_bfloat16 b) { return __uint_as_float(static_cast<uint32_t>(b.data) << 16); }
inline __hip_bfloat16 __float2bfloat16(float f) { return __hip_bfloat16{::aiter_simt::bf16_bits(f)}; }

// --- cross-lane and memory builtins --------------------------------------------
// HIP's __shfl_xor: lane self reads lane self ^ lane_mask unless that lies
// past the end of self's width-lane group, then its own value.
template <typename T>
inline T __shfl_xor(T var, int lane_mask, int width = AITER_SIMT_WARP) {
  static_assert(sizeof(T) <= sizeof(uint64_t) && std::is_trivially_copyable<T>::value, "a 32- or 64-bit value");
  uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  bits = ::aiter_simt::shfl_xor_bits(bits, lane_mask, width);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}

#if !defined(__clang__)
// clang has these builtins (HIP's non-temporal accesses); for g++ they are
// the plain accesses they amount to off the GPU.
template <typename T>
inline T __builtin_nontemporal_load(const T* p) {
  return *p;
}
template <typename T>
inline void __builtin_nontemporal_store(T v, T* p) {
  *p = v;
}
#endif
