// CUDA / HIP differences in one place. Kernel sources include this header only,
// never cuda_*.h or hip_*.h directly, and never torch headers, so they compile
// on their own with nvcc, a HIP clang, or a host compiler for the CPU SIMT
// executor.
#pragma once

#if defined(AITER_SIMT_CPU)
// The CPU SIMT executor (csrc/simt/): HIP's device API run on fibers, one per
// GPU thread, with AITER_SIMT_WARP-lane waves. It takes the HIP branch of
// everything below, as a ROCm build does.
#define AITER_HIP 1
#define AITER_SIMT 1
#include "../simt/simt_device.h"
using compat_half = __half;
using compat_bf16 = __hip_bfloat16;
using compat_stream_t = hipStream_t;
#elif defined(__HIP_PLATFORM_AMD__) || defined(__HIPCC__) || defined(USE_ROCM)
#define AITER_HIP 1
#include <hip/hip_runtime.h>
#include <hip/hip_fp16.h>
#include <hip/hip_bf16.h>
using compat_half = __half;
using compat_bf16 = __hip_bfloat16;
using compat_stream_t = hipStream_t;
#else
#define AITER_CUDA 1
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>
using compat_half = __half;
using compat_bf16 = __nv_bfloat16;
using compat_stream_t = cudaStream_t;
#endif

#include "quant_convert.h"

// Largest block any launcher in this library asks for; launch bounds use it.
#define AITER_MAX_BLOCK_THREADS 1024

// The warp (wavefront) width of the code being compiled. Device code reads it
// from the compiler so one source serves wave64 (gfx9) and wave32 targets;
// host code gets the width of the running device from the launcher instead.
#if defined(AITER_SIMT)
#define AITER_DEVICE_WARP AITER_SIMT_WARP
#elif defined(AITER_HIP)
#if defined(__GFX9__) || !defined(__AMDGCN_WAVEFRONT_SIZE)
#define AITER_DEVICE_WARP 64
#else
#define AITER_DEVICE_WARP __AMDGCN_WAVEFRONT_SIZE
#endif
#else
#define AITER_DEVICE_WARP 32
#endif

// A kernel launch, written AITER_LAUNCH(grid, block, shared_bytes, stream,
// kernel)(args...): the triple-chevron launch on CUDA and HIP; the executor
// runs the same kernel on fibers.
#if defined(AITER_SIMT)
#define AITER_LAUNCH(grid, block, shared, stream, ...) ::aiter_simt::Launch(grid, block, shared, stream, &__VA_ARGS__)
#else
#define AITER_LAUNCH(grid, block, shared, stream, ...) __VA_ARGS__<<<grid, block, shared, stream>>>
#endif

// xor-shuffle within groups of `width` lanes. HIP defaults the width to the
// whole wavefront, so the width is always passed explicitly.
__device__ __forceinline__ float compat_shfl_xor(float v, int lane_mask, int width) {
#if defined(AITER_HIP)
  return __shfl_xor(v, lane_mask, width);
#else
  return __shfl_xor_sync(0xffffffffu, v, lane_mask, width);
#endif
}

// 1-based index of the lowest set bit (0 for 0), as CUDA's and HIP's __ffs.
__device__ __forceinline__ int compat_ffs(int v) { return __ffs(v); }

// Conversions between storage types and the fp32 accumulator.
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(compat_half v) { return __half2float(v); }
// bf16 -> fp32 is exact: the 16 bits become the high half. On CUDA, as a
// shift the value stays in the 32-bit register it was loaded in; the library
// call's 16-bit operands held one register per element (nvcc: 61 -> 53
// registers for the dense bf16 RMSNorm kernel with four vectors per thread).
__device__ __forceinline__ float to_float(compat_bf16 v) {
#if defined(AITER_HIP)
  return __bfloat162float(v);
#else
  return __uint_as_float(static_cast<unsigned>(__bfloat16_as_ushort(v)) << 16);
#endif
}

template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ compat_half from_float<compat_half>(float v) {
  return __float2half_rn(v);
}
template <> __device__ __forceinline__ compat_bf16 from_float<compat_bf16>(float v) {
#if defined(AITER_HIP)
  // hip_bf16.h has no _rn spelling; its __float2bfloat16 rounds to nearest even.
  return __float2bfloat16(v);
#else
  return __float2bfloat16_rn(v);
#endif
}

// Two 16-bit values of one 32-bit word (the first in the low half) to fp32,
// and two floats rounded into one word. The kernels convert 16-byte chunks a
// word at a time: converted element by element, a row held in registers was
// split into one 16-bit register per element (nvcc, dense bf16 LayerNorm:
// a PRMT per element and 64 registers).
template <typename T> __device__ __forceinline__ float2 compat_unpack2(uint32_t w);
template <typename T> __device__ __forceinline__ uint32_t compat_pack2(float lo, float hi);
template <> __device__ __forceinline__ float2 compat_unpack2<compat_bf16>(uint32_t w) {
  return make_float2(__uint_as_float(w << 16), __uint_as_float(w & 0xffff0000u));  // exact
}
template <> __device__ __forceinline__ float2 compat_unpack2<compat_half>(uint32_t w) {
  __half2 h;
  __builtin_memcpy(&h, &w, sizeof(w));
  return __half22float2(h);
}
template <> __device__ __forceinline__ uint32_t compat_pack2<compat_bf16>(float lo, float hi) {
#if defined(AITER_HIP)
  const compat_bf16 a = from_float<compat_bf16>(lo), b = from_float<compat_bf16>(hi);
  uint16_t ua, ub;
  __builtin_memcpy(&ua, &a, 2);
  __builtin_memcpy(&ub, &b, 2);
  return static_cast<uint32_t>(ua) | (static_cast<uint32_t>(ub) << 16);
#else
  const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);  // one cvt for both
  uint32_t w;
  __builtin_memcpy(&w, &h, sizeof(w));
  return w;
#endif
}
template <> __device__ __forceinline__ uint32_t compat_pack2<compat_half>(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  uint32_t w;
  __builtin_memcpy(&w, &h, sizeof(w));
  return w;
}

// The sums of two pairs of bf16 values, each rounded to bf16 once: the
// bits of compat_pack2(unpack(a) + unpack(b)), since an fp32 sum rounded
// again to bf16 is the correctly rounded sum (fp32 has more than 2p + 2 bits
// of bf16's p = 8, so the double rounding is innocuous). One packed add on
// CUDA where the fp32 path took two unpacks, two adds and a pack per word.
__device__ __forceinline__ uint32_t compat_add_bf16x2(uint32_t a, uint32_t b) {
#if defined(AITER_HIP)
  const float2 x = compat_unpack2<compat_bf16>(a), y = compat_unpack2<compat_bf16>(b);
  return compat_pack2<compat_bf16>(x.x + y.x, x.y + y.y);
#else
  __nv_bfloat162 x, y;
  __builtin_memcpy(&x, &a, sizeof(a));
  __builtin_memcpy(&y, &b, sizeof(b));
  const __nv_bfloat162 sum = __hadd2(x, y);
  uint32_t w;
  __builtin_memcpy(&w, &sum, sizeof(w));
  return w;
#endif
}

// fp8 e4m3fn bytes of two floats (a in the low byte), rounded to nearest
// even and saturated exactly as aiter::float_to_e4m3fn does: one conversion
// instruction on sm_89 and later, the portable encoder elsewhere.
__device__ __forceinline__ uint16_t compat_encode_e4m3fn_x2(float a, float b) {
#if defined(AITER_CUDA) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  const uint16_t r = __nv_cvt_float2_to_fp8x2(make_float2(a, b), __NV_SATFINITE, __NV_E4M3);
  // The hardware writes every NaN as 0x7f; the portable encoder keeps the
  // sign. Every other result already carries the input's sign bit, so OR-ing
  // the signs in changes NaN only (no compare or select per value).
  const uint32_t signs = __byte_perm(aiter::float_bits(a), aiter::float_bits(b), 0x73);
  return static_cast<uint16_t>(r | (signs & 0x8080u));
#else
  return static_cast<uint16_t>(aiter::float_to_e4m3fn(a) | (aiter::float_to_e4m3fn(b) << 8));
#endif
}

// Four bytes (the low byte of each argument) as one 32-bit word, b0 lowest:
// how quantised chunks are assembled, so a chunk of VEC bytes is VEC / 4
// register words rather than VEC bytes shuffled into place one at a time.
__device__ __forceinline__ uint32_t compat_bytes_to_word(uint32_t b0, uint32_t b1, uint32_t b2, uint32_t b3) {
#if defined(AITER_CUDA)
  return __byte_perm(__byte_perm(b0, b1, 0x0040), __byte_perm(b2, b3, 0x0040), 0x5410);
#else
  return (b0 & 0xffu) | ((b1 & 0xffu) << 8) | ((b2 & 0xffu) << 16) | ((b3 & 0xffu) << 24);
#endif
}

// int8 of a float as aiter::float_to_int8 encodes it (nearest even, saturated
// to [-128, 127], NaN to 0): one conversion instruction in PTX (cvt to s8
// saturates and maps NaN to 0), against eight for the clamps and selects.
// The code is the low byte of the result; the upper bytes are unspecified,
// so a caller packing codes into words takes the low bytes without masking.
__device__ __forceinline__ uint32_t compat_encode_int8(float v) {
#if defined(AITER_CUDA) && defined(__CUDA_ARCH__)
  uint32_t r;
  asm("cvt.rni.sat.s8.f32 %0, %1;" : "=r"(r) : "f"(v));
  return r;
#else
  return static_cast<uint8_t>(aiter::float_to_int8(v));
#endif
}

// Starts fetching the cache line at p into L1 without waiting for it (or
// holding a register); an L2 prefetch gained less on the H100. HIP has no
// portable prefetch: a no-op there.
__device__ __forceinline__ void compat_prefetch(const void* p) {
#if defined(AITER_CUDA)
  asm volatile("prefetch.global.L1 [%0];" ::"l"(p));
#else
  (void)p;
#endif
}

// Makes a pointer opaque to the compiler where it was computed, so it stays
// in a register: under a tight register bound nvcc otherwise recomputes a
// dense row's pointer (a two-dim row offset: a multiply-high division and
// four multiplies) at every use. Not measured on gfx9: a no-op there.
template <typename P>
__device__ __forceinline__ void compat_pin(P*& p) {
#if defined(AITER_CUDA)
  asm volatile("" : "+l"(p));
#else
  (void)p;
#endif
}

// Asynchronous 16-byte copies from global to shared memory (sm_80 and
// later): a block stages its next row group there while it works on the
// current one, with no register held for the data in flight. Other targets
// (HIP, older CUDA) have no such copy; their kernels never stage
// (AITER_ASYNC_COPY 0), and these compile to a plain copy and no-ops.
#if defined(AITER_CUDA) && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800)
#define AITER_ASYNC_COPY 1
#else
#define AITER_ASYNC_COPY 0
#endif

__device__ __forceinline__ void compat_copy_async16(void* shared, const void* global) {
#if AITER_ASYNC_COPY && defined(__CUDA_ARCH__)
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(address), "l"(global) : "memory");
#else
  *static_cast<uint4*>(shared) = *static_cast<const uint4*>(global);
#endif
}

// Closes this thread's copies issued since the last commit into one group.
__device__ __forceinline__ void compat_copy_async_commit() {
#if AITER_ASYNC_COPY && defined(__CUDA_ARCH__)
  asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

// Waits until at most `kPending` of this thread's latest groups are in flight.
template <int kPending>
__device__ __forceinline__ void compat_copy_async_wait() {
#if AITER_ASYNC_COPY && defined(__CUDA_ARCH__)
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending) : "memory");
#endif
}

// Global accesses for data touched once: loads take the read-only
// (non-coherent) path, safe because an element is only ever written after
// the same thread has read it (a streamed row's re-read of residual_out goes
// through the plain path); stores are marked streaming. Only 16-byte
// accesses get the hints; narrower ones are plain.
template <typename V>
__device__ __forceinline__ V compat_load_once(const V* p) {
  static_assert(sizeof(V) == 16 || sizeof(V) <= 8, "vector of 16 bytes or a scalar");
  if constexpr (sizeof(V) == 16) {
#if defined(AITER_HIP)
    V v;
    auto* dst = reinterpret_cast<unsigned int*>(&v);
    const auto* src = reinterpret_cast<const unsigned int*>(p);
#pragma unroll
    for (int i = 0; i < 4; ++i) dst[i] = __builtin_nontemporal_load(src + i);
    return v;
#else
    // Compiler-visible intrinsics, not inline asm: volatile asm pinned the
    // loads in program order (2-5 points of copy bandwidth on the H100).
    const uint4 r = __ldg(reinterpret_cast<const uint4*>(p));
    return *reinterpret_cast<const V*>(&r);
#endif
  } else {
    return *p;
  }
}

// A 16-byte load of row data for the dense-row kernels. Not through the
// read-only path (compat_load_once): there a row of 8-16K elements pushed
// the weights, which every row reads again, out of L1 (bf16 h16384: 19%
// slower than the staged kernel, whose copies bypass L1). Not marked
// evict-first either: on the H100 (bf16, C++ harness, one run) that cost 2-3
// points of copy bandwidth where a launch reads 64 MB or more (hidden
// 2048-16384 at T = 32768: 96.7-99.4% of copy against 99.2-100.6% plain),
// and gained up to 3% only below the L2's size. Selecting the hint per
// launch (a runtime flag) made nvcc branch around each load, serialising them.
template <typename V>
__device__ __forceinline__ V compat_load_row(const V* p) {
  static_assert(sizeof(V) == 16, "16-byte vectors");
#if defined(AITER_HIP)
  return compat_load_once(p);  // nontemporal
#else
  const uint4 r = *reinterpret_cast<const uint4*>(p);
  return *reinterpret_cast<const V*>(&r);
#endif
}

template <typename V>
__device__ __forceinline__ void compat_store_streaming(V* p, const V& v) {
  if constexpr (sizeof(V) == 16) {
#if defined(AITER_HIP)
    const auto* src = reinterpret_cast<const unsigned int*>(&v);
    auto* dst = reinterpret_cast<unsigned int*>(p);
#pragma unroll
    for (int i = 0; i < 4; ++i) __builtin_nontemporal_store(src[i], dst + i);
#else
    __stcs(reinterpret_cast<uint4*>(p), *reinterpret_cast<const uint4*>(&v));
#endif
  } else {
    *p = v;
  }
}
