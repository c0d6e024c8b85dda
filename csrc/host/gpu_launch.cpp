// GPU side of the launcher. Built only when the extension is compiled for
// CUDA or ROCm (AITER_WITH_GPU); the CPU build gets the stubs below.
#include "gpu_launch.h"

#include "message.h"

#ifdef AITER_WITH_GPU
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "../kernels/norm_rows_launch.h"
#endif

namespace aiter {

#ifdef AITER_WITH_GPU
bool gpu_backend_available() { return true; }

void launch_row_norm_gpu(const NormParams& p, const at::Tensor& like, const char* op) {
  const c10::cuda::CUDAGuard guard(like.device());
  const cudaDeviceProp* prop = at::cuda::getCurrentDeviceProperties();
  // The warp width comes from the device (64 on gfx9), never a constant.
  const TargetInfo target{prop->warpSize, prop->multiProcessorCount,
                          prop->maxThreadsPerMultiProcessor};
  const LaunchConfig config = choose_launch(target, p);
  const char* why = unsupported_launch(config, target);
  TORCH_CHECK_VALUE(why == nullptr, aiter::message(op, ": group_size=", p.group_size, ": ", why ? why : ""));
  const int rc = launch_norm_rows(p, config, target.sm_count, at::cuda::getCurrentCUDAStream().stream());
  TORCH_CHECK(rc == 0, aiter::message("aiter: no kernel built for vec=", config.vec, " chunks=", config.chunks));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}
#else
bool gpu_backend_available() { return false; }

void launch_row_norm_gpu(const NormParams&, const at::Tensor& like, const char*) {
  TORCH_CHECK(false, aiter::message("aiter: this build has no GPU backend, but a tensor is on ", like.device(),
              "; rebuild with a CUDA or ROCm build of torch and its compiler present"));
}
#endif

}  // namespace aiter
