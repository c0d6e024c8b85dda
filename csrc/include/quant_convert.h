// float -> quantised storage encodings, shared by the CPU backend, the GPU
// kernels (CUDA and HIP) and the test helpers. No torch, no CUDA/HIP headers.
//
// Every conversion rounds to nearest, ties to even, and saturates: values
// beyond the format's largest finite magnitude (infinities included) become
// that magnitude with the input's sign. NaN becomes 0 for int8 and the
// format's NaN encoding for fp8.
//   int8           [-128, 127]
//   fp8 e4m3fn     bias 7, max 448, NaN 0x7f/0xff, has -0 (0x80)
//   fp8 e4m3fnuz   bias 8, max 240, NaN 0x80, no -0 (a negative value that
//                  rounds to zero encodes as +0)
#pragma once
#include <stdint.h>

#include "row_layout.h"  // AITER_HD

namespace aiter {

enum class QuantType : int32_t { kNone = 0, kInt8 = 1, kFp8E4M3Fn = 2, kFp8E4M3Fnuz = 3 };

// Largest finite magnitude of a quantised format (the dynamic scale maps a
// row's max |y| onto it).
AITER_HD float quant_max(QuantType q) {
  return q == QuantType::kInt8 ? 127.0f
         : q == QuantType::kFp8E4M3Fn ? 448.0f
         : q == QuantType::kFp8E4M3Fnuz ? 240.0f
         : 0.0f;
}

AITER_HD uint32_t float_bits(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, sizeof u);
  return u;
}

AITER_HD float bits_float(uint32_t u) {
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}

AITER_HD float round_half_even(float f) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  return rintf(f);  // the default rounding mode: to nearest, ties to even
#else
  return __builtin_rintf(f);
#endif
}

// The encoders are branch-free (every case is computed, then selected): the
// GPU kernels convert 8-16 elements per thread back to back, and a branch per
// element cost more than the arithmetic it skipped.
AITER_HD int8_t float_to_int8(float f) {
  float c = f < -128.0f ? -128.0f : (f > 127.0f ? 127.0f : f);
  c = f == f ? c : 0.0f;  // NaN
  return static_cast<int8_t>(static_cast<int32_t>(round_half_even(c)));
}

// fp8 with 4 exponent bits of bias `kBias` and 3 mantissa bits. `kFnuz`
// selects the fnuz flavour (bias 8: no -0, NaN 0x80, max 0x7f = 240) over fn
// (bias 7: NaN 0x7f, max 0x7e = 448).
template <int kBias, bool kFnuz>
AITER_HD uint8_t float_to_e4m3(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 24) & 0x80u;
  const uint32_t mag = u & 0x7fffffffu;
  // Smallest normal (2^(1 - kBias)) and largest finite value (fn 1.75 * 2^8,
  // fnuz 1.875 * 2^7) as fp32 bit patterns.
  constexpr uint32_t kMinNormalBits = static_cast<uint32_t>(128 - kBias) << 23;
  constexpr uint32_t kMaxBits = kFnuz ? 0x43700000u : 0x43e00000u;
  constexpr uint32_t kMaxCode = kFnuz ? 0x7fu : 0x7eu;
  // Normal in fp8: keep 3 mantissa bits, round the 20 dropped ones to nearest
  // even (a carry into the exponent is the correct next binade). Wraps
  // harmlessly (unsigned) where not selected.
  const uint32_t normal = ((mag + 0x7ffffu + ((mag >> 20) & 1u)) >> 20) - (static_cast<uint32_t>(127 - kBias) << 3);
  // fp8 subnormal: code = |f| / 2^(1 - kBias - 3), rounded to nearest even.
  // Scaling by a power of two is exact, and the clamp keeps it in [0, 8]
  // (8 is the smallest normal, which the encoding gets right).
  const float scaled = bits_float(mag < kMinNormalBits ? mag : kMinNormalBits) * static_cast<float>(1 << (kBias + 2));
  const uint32_t subnormal = static_cast<uint32_t>(round_half_even(scaled));
  uint32_t code = mag >= kMinNormalBits ? normal : subnormal;
  code = mag >= kMaxBits ? kMaxCode : code;  // saturate (infinities included)
  const uint32_t signed_code = kFnuz && code == 0 ? 0u : (sign | code);  // fnuz has no -0
  const uint32_t nan = kFnuz ? 0x80u : (sign | 0x7fu);
  return static_cast<uint8_t>(mag > 0x7f800000u ? nan : signed_code);
}

AITER_HD uint8_t float_to_e4m3fn(float f) { return float_to_e4m3<7, false>(f); }
AITER_HD uint8_t float_to_e4m3fnuz(float f) { return float_to_e4m3<8, true>(f); }

// The byte a quantised output element stores.
AITER_HD uint8_t quantize_to_byte(float f, QuantType q) {
  switch (q) {
    case QuantType::kInt8: return static_cast<uint8_t>(float_to_int8(f));
    case QuantType::kFp8E4M3Fn: return float_to_e4m3fn(f);
    case QuantType::kFp8E4M3Fnuz: return float_to_e4m3fnuz(f);
    default: return 0;
  }
}

}  // namespace aiter
