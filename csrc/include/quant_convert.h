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

AITER_HD float round_half_even(float f) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  return rintf(f);  // the default rounding mode: to nearest, ties to even
#else
  return __builtin_rintf(f);
#endif
}

AITER_HD int8_t float_to_int8(float f) {
  if (!(f == f)) return 0;  // NaN
  f = f < -128.0f ? -128.0f : (f > 127.0f ? 127.0f : f);
  return static_cast<int8_t>(static_cast<int32_t>(round_half_even(f)));
}

// fp8 with 4 exponent bits of bias `kBias` and 3 mantissa bits. `kFnuz`
// selects the fnuz flavour (bias 8: no -0, NaN 0x80, max 0x7f = 240) over fn
// (bias 7: NaN 0x7f, max 0x7e = 448).
template <int kBias, bool kFnuz>
AITER_HD uint8_t float_to_e4m3(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 24) & 0x80u;
  const uint32_t mag = u & 0x7fffffffu;
  if (mag > 0x7f800000u) return kFnuz ? 0x80u : static_cast<uint8_t>(sign | 0x7fu);  // NaN
  // Largest finite value: fn 1.75 * 2^8 (0x43e00000), fnuz 1.875 * 2^7 (0x43700000).
  constexpr uint32_t kMaxBits = kFnuz ? 0x43700000u : 0x43e00000u;
  constexpr uint32_t kMaxCode = kFnuz ? 0x7fu : 0x7eu;
  if (mag >= kMaxBits) return static_cast<uint8_t>(sign | kMaxCode);
  const int exp = static_cast<int>(mag >> 23) - 127;  // -127 for fp32 zeros/subnormals
  uint32_t code;
  if (exp >= 1 - kBias) {
    // Normal in fp8: keep 3 mantissa bits, round the 20 dropped ones to
    // nearest even (a carry into the exponent is the correct next binade).
    const uint32_t rounded = (mag + 0x7ffffu + ((mag >> 20) & 1u)) >> 20;
    code = rounded - (static_cast<uint32_t>(127 - kBias) << 3);
  } else {
    // fp8 subnormal: code = |f| / 2^(1 - kBias - 3), rounded to nearest even
    // (a result of 8 is the smallest normal, which the encoding gets right).
    const uint32_t m = (mag & 0x7fffffu) | (exp > -127 ? 0x800000u : 0u);
    const int shift = 21 - kBias - exp;  // >= 21 here
    if (shift >= 25 || m == 0) {
      code = 0;  // below half the smallest subnormal
    } else {
      const uint32_t half = 1u << (shift - 1);
      code = (m + half - 1u + ((m >> shift) & 1u)) >> shift;
    }
  }
  if (kFnuz && code == 0) return 0;  // no negative zero
  return static_cast<uint8_t>(sign | code);
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
