// A C ABI over FlashInfer's header-only norm kernels (include/flashinfer/norm.cuh
// of the flashinfer-python wheel), for the FlashInfer column of
// op_tests/bench_rmsnorm.py. Benchmark-only: built at bench time by
// flashinfer_norm.py against headers taken from the wheel; nothing of
// FlashInfer is in this tree. No torch headers, so it builds with nvcc alone:
//   nvcc -std=c++17 -arch=sm_90 -shared -Xcompiler -fPIC -I<wheel>/flashinfer/data/include \
//        -o libfi_norm.so flashinfer_norm_calls.cu
// Every entry returns a cudaError_t (0 on success); fi_error_string names it.

// FlashInfer's vector types use the half / bfloat16 operators and
// conversions that torch's extension flags switch off; this file is built
// without those flags, and undefines them in case a caller passes them.
#undef __CUDA_NO_HALF_OPERATORS__
#undef __CUDA_NO_HALF_CONVERSIONS__
#undef __CUDA_NO_HALF2_OPERATORS__
#undef __CUDA_NO_BFLOAT16_CONVERSIONS__
#undef __CUDA_NO_BFLOAT16_OPERATORS__

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include <flashinfer/norm.cuh>

namespace {

enum Dtype : int { kFp16 = 0, kBf16 = 1 };

// Calls fn with the element type named by dtype (a null pointer of it).
template <typename Fn>
cudaError_t with_dtype(int dtype, Fn fn) {
  switch (dtype) {
    case kFp16: return fn(static_cast<half*>(nullptr));
    case kBf16: return fn(static_cast<__nv_bfloat16*>(nullptr));
  }
  return cudaErrorInvalidValue;
}

}  // namespace

extern "C" {

// out[r, :] = rmsnorm(input[r, :]) * weight for rows r < rows, each row d
// elements, rows stride_in / stride_out elements apart.
int fi_rmsnorm(int dtype, void* input, void* weight, void* output, uint32_t rows, uint32_t d,
               uint32_t stride_in, uint32_t stride_out, float eps, void* stream) {
  return with_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    return flashinfer::norm::RMSNorm<T>(static_cast<T*>(input), static_cast<T*>(weight),
                                         static_cast<T*>(output), rows, d, stride_in, stride_out, eps,
                                         /*enable_pdl=*/false, static_cast<cudaStream_t>(stream));
  });
}

// In place: residual <- input + residual, input <- rmsnorm(residual) * weight.
int fi_fused_add_rmsnorm(int dtype, void* input, void* residual, void* weight, uint32_t rows, uint32_t d,
                         uint32_t stride_in, uint32_t stride_res, float eps, void* stream) {
  return with_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    return flashinfer::norm::FusedAddRMSNorm<T>(static_cast<T*>(input), static_cast<T*>(residual),
                                                 static_cast<T*>(weight), rows, d, stride_in, stride_res, eps,
                                                 /*enable_pdl=*/false, static_cast<cudaStream_t>(stream));
  });
}

// Each head of a (tokens, heads, d) view: token t, head h at t * s_in_t +
// h * s_in_h (elements), written at t * s_out_t + h * s_out_h.
int fi_qk_rmsnorm(int dtype, void* input, void* weight, void* output, uint32_t tokens, uint32_t heads,
                  uint32_t d, uint32_t s_in_t, uint32_t s_in_h, uint32_t s_out_t, uint32_t s_out_h, float eps,
                  void* stream) {
  return with_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    return flashinfer::norm::QKRMSNorm<T>(static_cast<T*>(input), static_cast<T*>(weight),
                                           static_cast<T*>(output), tokens, heads, d, s_in_t, s_in_h, s_out_t,
                                           s_out_h, eps, /*enable_pdl=*/false, static_cast<cudaStream_t>(stream));
  });
}

const char* fi_error_string(int code) { return cudaGetErrorString(static_cast<cudaError_t>(code)); }

}  // extern "C"
