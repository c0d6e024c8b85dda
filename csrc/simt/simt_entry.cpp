// The executor library's C entry points (simt_abi.h): the same planner and
// kernel dispatch as the GPU launcher (csrc/host/gpu_launch.cpp), with the
// launch run on fibers and its memory checked against the caller's views.
#include <cstring>
#include <string>

#include "../kernels/norm_rows_launch.h"
#include "simt_device.h"
#include "simt_state.h"

namespace aiter_simt {
int run_planted_fault(int which, const aiter::SimtView* views, int count);
}

namespace {

// 64 KiB of LDS per workgroup and per CU on gfx90a / gfx942.
constexpr int64_t kSharedBytesPerCu = 64 * 1024;

// Runs `launch` with its views registered and its faults reported.
template <typename F>
int checked(const aiter::SimtView* views, int count, aiter::SimtReport* report, F launch) {
  aiter_simt::set_report(report);
  aiter_simt::set_launch_views(views, count);
  const int rc = launch();
  aiter_simt::clear_launch_views();
  aiter_simt::set_report(nullptr);
  return rc;
}

}  // namespace

extern "C" {

int aiter_simt_warp_size() { return AITER_SIMT_WARP; }

int aiter_simt_run_norm(const aiter::SimtNormRequest* request, aiter::SimtReport* report) {
  const aiter::TargetInfo& target = request->target;
  if (target.warp_size != AITER_SIMT_WARP) return -3;
  aiter_simt::set_occupancy_target(target.max_threads_per_sm, kSharedBytesPerCu);
  return checked(request->views, request->view_count, report, [&] {
    const aiter::NormParams& p = *request->params;
    const aiter::LaunchConfig config = aiter::choose_launch(target, p);
    if (aiter::unsupported_launch(config, target) != nullptr) return -2;
    return aiter::launch_norm_rows(p, config, target.sm_count, nullptr);
  });
}

int aiter_simt_quantize_bytes(const float* in, uint8_t* out, int64_t n, int32_t format, aiter::SimtReport* report) {
  aiter::SimtView views[2] = {};
  views[0] = {"x", in, 4, 1, 0, {n}, {1}};
  views[1] = {"out", out, 1, 1, 1, {n}, {1}};
  return checked(views, 2, report, [&] {
    return aiter::launch_quantize_bytes(in, out, n, static_cast<aiter::QuantType>(format), nullptr);
  });
}

int64_t aiter_simt_executed_kernels(char* buffer, int64_t size) {
  std::string all;
  for (const std::string& name : aiter_simt::executed_kernels()) all += name + "\n";
  const int64_t needed = static_cast<int64_t>(all.size()) + 1;
  if (buffer != nullptr && size >= needed) std::memcpy(buffer, all.c_str(), static_cast<std::size_t>(needed));
  return needed;
}

int aiter_simt_narrow(int32_t to_bf16, const float* in, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (to_bf16) {
      const __hip_bfloat16 b = __float2bfloat16(in[i]);
      std::memcpy(&out[i], &b, 2);
    } else {
      const __half h = __float2half_rn(in[i]);
      std::memcpy(&out[i], &h, 2);
    }
  }
  return 0;
}

int aiter_simt_widen(int32_t from_bf16, const uint16_t* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (from_bf16) {
      __hip_bfloat16 b;
      std::memcpy(&b, &in[i], 2);
      out[i] = __bfloat162float(b);
    } else {
      __half h;
      std::memcpy(&h, &in[i], 2);
      out[i] = __half2float(h);
    }
  }
  return 0;
}

int aiter_simt_run_planted(int32_t which, const aiter::SimtView* views, int32_t count, aiter::SimtReport* report) {
  return checked(views, count, report, [&] { return aiter_simt::run_planted_fault(which, views, count); });
}

}  // extern "C"
