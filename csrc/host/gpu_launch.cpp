// GPU side of the launcher. Built only when the extension is compiled for
// CUDA or ROCm (AITER_WITH_GPU); the CPU build gets the stubs below.
#include "gpu_launch.h"

#include "message.h"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#ifdef AITER_WITH_GPU
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "../kernels/norm_rows_launch.h"
#endif

namespace aiter {

#ifdef AITER_WITH_GPU
bool gpu_backend_available() { return true; }

namespace {
DeviceProps device_props(int device) {
  const cudaDeviceProp* prop = at::cuda::getDeviceProperties(device);
  DeviceProps d;
  // The warp width comes from the device (64 on gfx9), never a constant.
  d.warp_size = prop->warpSize;
  d.sm_count = prop->multiProcessorCount;
  d.max_threads_per_sm = prop->maxThreadsPerMultiProcessor;
  d.regs_per_sm = prop->regsPerMultiprocessor;
  d.l2_bytes = prop->l2CacheSize;
  d.mem_bus_bits = prop->memoryBusWidth;
#if defined(USE_ROCM)
  d.shared_per_sm = static_cast<int64_t>(prop->maxSharedMemoryPerMultiProcessor);
  d.mem_clock_khz = prop->memoryClockRate;
  d.async_copy = 0;
#else
  d.shared_per_sm = static_cast<int64_t>(prop->sharedMemPerMultiprocessor);
  d.max_blocks_per_sm = prop->maxBlocksPerMultiProcessor;
  int clock_khz = 0;  // no longer a cudaDeviceProp field in CUDA 13
  if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device) == cudaSuccess)
    d.mem_clock_khz = clock_khz;
  d.async_copy = prop->major >= 8 ? 1 : 0;
#endif
  return d;
}

// The name a table is keyed by (device_key): the gfx arch on ROCm.
std::string device_name(int device) {
  const cudaDeviceProp* prop = at::cuda::getDeviceProperties(device);
#if defined(USE_ROCM)
  return prop->gcnArchName;
#else
  return prop->name;
#endif
}

// A device's resolved target, kept until the policy changes
// (launch_policy_generation): one acquire load and a compare per launch.
// Resolved targets live for the process, one per device and policy source
// (the tuner switches among a few specs call by call).
constexpr int kCachedDevices = 64;
struct DeviceSlot {
  std::atomic<uint64_t> generation{0};
  std::atomic<const ResolvedTarget*> entry{nullptr};
};
DeviceSlot g_slots[kCachedDevices];
std::mutex g_resolve;
std::map<std::pair<int, std::string>, std::unique_ptr<ResolvedTarget>> g_resolved;

const ResolvedTarget& resolved_for(int device) {
  const uint64_t generation = launch_policy_generation();
  DeviceSlot* slot = device >= 0 && device < kCachedDevices ? &g_slots[device] : nullptr;
  if (slot != nullptr && slot->generation.load(std::memory_order_acquire) == generation) {
    if (const ResolvedTarget* e = slot->entry.load(std::memory_order_acquire)) return *e;
  }
  std::lock_guard<std::mutex> lock(g_resolve);
  ResolvedTarget r = resolve_target(device_props(device), device_name(device));
  auto& kept = g_resolved[{device, r.source}];
  if (!kept) kept = std::make_unique<ResolvedTarget>(std::move(r));
  if (slot != nullptr) {
    slot->entry.store(kept.get(), std::memory_order_release);
    slot->generation.store(generation, std::memory_order_release);
  }
  return *kept;
}
}  // namespace

DeviceProps gpu_device_props(int device) { return device_props(device); }
std::string gpu_device_name(int device) { return device_name(device); }
ResolvedTarget gpu_launch_target(int device) { return resolved_for(device); }

void launch_row_norm_gpu(const NormParams& p, const at::Tensor& like, const char* op) {
  const c10::cuda::CUDAGuard guard(like.device());
  const TargetInfo& target = resolved_for(like.device().index()).target;
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

DeviceProps gpu_device_props(int) {
  TORCH_CHECK(false, "aiter: this build has no GPU backend");
  return {};
}
std::string gpu_device_name(int) {
  TORCH_CHECK(false, "aiter: this build has no GPU backend");
  return {};
}
ResolvedTarget gpu_launch_target(int) {
  TORCH_CHECK(false, "aiter: this build has no GPU backend");
  return {};
}
#endif

}  // namespace aiter
