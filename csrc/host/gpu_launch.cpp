// GPU side of the launcher. Built only when the extension is compiled for
// CUDA or ROCm (AITER_WITH_GPU); the CPU build gets the stubs below.
#include "gpu_launch.h"

#include "message.h"

#include <cstdlib>
#include <sstream>
#include <string>

#ifdef AITER_WITH_GPU
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "../kernels/norm_rows_launch.h"
#endif

namespace aiter {

#ifdef AITER_WITH_GPU
bool gpu_backend_available() { return true; }

namespace {
// AITER_LAUNCH_TUNE="short_chunks=1,long_chunks=4,short_quant_chunks=2,short_threads=256,grid_waves=1,batch_rows=1,stage_rows=1,dense_rows=1,dense_prefetch=1,packed_threads=256,decode_split=2,decode_slices=4,dense_split=1"
// overrides the launch policy (read once), for launch sweeps on a new GPU.
TargetInfo tuned(TargetInfo t) {
  const char* env = std::getenv("AITER_LAUNCH_TUNE");
  if (env == nullptr) return t;
  std::stringstream spec(env);
  std::string item;
  while (std::getline(spec, item, ',')) {
    const auto eq = item.find('=');
    TORCH_CHECK_VALUE(eq != std::string::npos, "AITER_LAUNCH_TUNE: expected key=value, got '", item, "'");
    const std::string key = item.substr(0, eq);
    const int value = std::stoi(item.substr(eq + 1));
    if (key == "short_chunks") t.short_row_chunks = value;
    else if (key == "long_chunks") t.long_row_chunks = value;
    else if (key == "short_quant_chunks") t.short_quant_row_chunks = value;
    else if (key == "short_threads") t.short_row_threads = value;
    else if (key == "grid_waves") t.grid_waves = value;
    else if (key == "batch_rows") t.batch_rows = value;
    else if (key == "stage_rows") t.stage_rows = value;
    else if (key == "dense_rows") t.dense_rows = value;
    else if (key == "dense_prefetch") t.dense_prefetch = value;
    else if (key == "packed_threads") t.dense_packed_threads = value;
    else if (key == "decode_split") t.decode_split = value;
    else if (key == "decode_slices") t.dense_decode_slices = value;
    else if (key == "dense_split") t.dense_decode_split = value;
    else TORCH_CHECK_VALUE(false, "AITER_LAUNCH_TUNE: unknown key '", key, "'");
  }
  return t;
}
}  // namespace

void launch_row_norm_gpu(const NormParams& p, const at::Tensor& like, const char* op) {
  const c10::cuda::CUDAGuard guard(like.device());
  const cudaDeviceProp* prop = at::cuda::getCurrentDeviceProperties();
  // The warp width comes from the device (64 on gfx9), never a constant.
  static const TargetInfo tuning = tuned(TargetInfo{});
  TargetInfo target = tuning;
  target.warp_size = prop->warpSize;
  target.sm_count = prop->multiProcessorCount;
  target.max_threads_per_sm = prop->maxThreadsPerMultiProcessor;
#if defined(USE_ROCM)
  target.async_copy = 0;
#else
  target.async_copy = prop->major >= 8 ? 1 : 0;
#endif
  const LaunchConfig config = choose_launch(target, p);
  const char* why = unsupported_launch(config, target);
  TORCH_CHECK_VALUE(why == nullptr, aiter::message(op, ": group_size=", p.group_size, ": ", why ? why : ""));
  const int rc = launch_norm_rows(p, config, target.sm_count, at::cuda::getCurrentCUDAStream().stream());
  TORCH_CHECK(rc == 0, aiter::message("aiter: no kernel built for vec=", config.vec, " chunks=", config.chunks));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

at::Tensor quantize_bytes_gpu(const at::Tensor& x, QuantType q) {
  const c10::cuda::CUDAGuard guard(x.device());
  // The kernel takes whole chunks of 8: pad, encode, then drop the padding.
  const int64_t n = x.numel();
  const int64_t padded = (n + 7) / 8 * 8;
  at::Tensor src = at::zeros({padded}, x.options());
  src.narrow(0, 0, n).copy_(x.reshape(-1));
  at::Tensor out = at::empty({padded}, x.options().dtype(at::kByte));
  const int rc = launch_quantize_bytes(src.data_ptr<float>(), out.data_ptr<uint8_t>(), padded, q,
                                       at::cuda::getCurrentCUDAStream().stream());
  TORCH_CHECK(rc == 0, "quantize_bytes: no encoder kernel for this format");
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out.narrow(0, 0, n).reshape(x.sizes());
}
#else
bool gpu_backend_available() { return false; }

void launch_row_norm_gpu(const NormParams&, const at::Tensor& like, const char*) {
  TORCH_CHECK(false, aiter::message("aiter: this build has no GPU backend, but a tensor is on ", like.device(),
              "; rebuild with a CUDA or ROCm build of torch and its compiler present"));
}

at::Tensor quantize_bytes_gpu(const at::Tensor& x, QuantType) {
  TORCH_CHECK(false, aiter::message("quantize_bytes: this build has no GPU backend, but x is on ", x.device()));
}
#endif

}  // namespace aiter
