// The device half of _C.quantize_bytes: the norm kernels' own encoders
// (encode_values, hardware conversions included) over a float32 buffer, so
// tests can hold them against torch's casts for every bit pattern.
#include "norm_rows_kernel.cuh"
#include "norm_rows_launch.h"

namespace aiter {
namespace {

constexpr int kEncodeVec = 8;  // the norm kernels' widest chunk of 16-bit inputs

template <QuantType Q>
__global__ void encode_kernel(const float* in, uint8_t* out, int64_t chunks) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < chunks;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float v[kEncodeVec];
#pragma unroll
    for (int k = 0; k < kEncodeVec; ++k) v[k] = in[i * kEncodeVec + k];
    const Vec<uint8_t, kEncodeVec> q = encode_values<Q, kEncodeVec>(v);
#pragma unroll
    for (int k = 0; k < kEncodeVec; ++k) out[i * kEncodeVec + k] = q.v[k];
  }
}

template <QuantType Q>
void launch_encode(const float* in, uint8_t* out, int64_t chunks, compat_stream_t stream) {
  constexpr int kThreads = 256;
  const int64_t blocks = chunks / kThreads + 1 < 65535 ? chunks / kThreads + 1 : 65535;
  AITER_LAUNCH(dim3(static_cast<unsigned>(blocks)), dim3(kThreads), 0, stream, encode_kernel<Q>)(in, out, chunks);
}

}  // namespace

int launch_quantize_bytes(const float* in, uint8_t* out, int64_t n, QuantType q, void* stream) {
  if (n % kEncodeVec != 0) return -1;
  const auto s = static_cast<compat_stream_t>(stream);
  switch (q) {
    case QuantType::kInt8: launch_encode<QuantType::kInt8>(in, out, n / kEncodeVec, s); return 0;
    case QuantType::kFp8E4M3Fn: launch_encode<QuantType::kFp8E4M3Fn>(in, out, n / kEncodeVec, s); return 0;
    case QuantType::kFp8E4M3Fnuz: launch_encode<QuantType::kFp8E4M3Fnuz>(in, out, n / kEncodeVec, s); return 0;
    default: return -1;
  }
}

}  // namespace aiter
