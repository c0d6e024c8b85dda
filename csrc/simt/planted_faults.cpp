// Kernels with the faults the executor exists to catch, each beside its
// correct twin, written with the compat.h functions the shipped kernels use.
// Built into the executor libraries only (tests/test_simt_planted_faults.py
// runs them), never into the GPU extension.
#include "../include/compat.h"
#include "simt_abi.h"

namespace aiter_planted {

// A wave's sum, reduced over `kWidth` lanes: width 32 is the fault a port
// from 32-lane warps leaves behind (on a 64-lane wave it sums half of it).
template <int kWidth>
__global__ void wave_sum(const float* in, float* out) {
  float v = in[blockIdx.x * blockDim.x + threadIdx.x];
  for (int m = kWidth / 2; m > 0; m >>= 1) v += compat_shfl_xor(v, m, kWidth);
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}

// Each thread reads its neighbour's value through shared memory: without the
// barrier the neighbour may not have stored it yet.
template <bool kBarrier>
__global__ void rotate_through_shared(const float* in, float* out) {
  __shared__ float tile[AITER_MAX_BLOCK_THREADS];
  const int t = threadIdx.x;
  tile[t] = in[blockIdx.x * blockDim.x + t];
  if (kBarrier) __syncthreads();
  out[blockIdx.x * blockDim.x + t] = tile[(t + 1) % blockDim.x];
}

// A row's sum by one thread; the fault reads one element past the row's end.
template <bool kPastRow>
__global__ void row_sum(const float* in, int64_t row_stride, int hidden, float* out) {
  const float* row = in + blockIdx.x * row_stride;
  float s = 0.f;
  for (int i = 0; i < hidden + (kPastRow ? 1 : 0); ++i) s += row[i];
  out[blockIdx.x] = s;
}

}  // namespace aiter_planted

namespace aiter_simt {

// views[0]: the input, views[1]: the output (simt_abi.h). Returns -1 for an
// unknown fault or shapes the kernel does not take.
int run_planted_fault(int which, const aiter::SimtView* views, int count) {
  using namespace aiter_planted;
  if (count < 2) return -1;
  const auto* in = static_cast<const float*>(views[0].data);
  auto* out = static_cast<float*>(const_cast<void*>(views[1].data));
  const unsigned wave = AITER_DEVICE_WARP;
  switch (which) {
    case 0:  // wave_sum over 32 lanes: views[0] (blocks, wave), views[1] (blocks)
    case 1:  // ... over the target's wave
      if (views[0].ndim != 2 || views[0].sizes[1] != wave) return -1;
      if (which == 0)
        AITER_LAUNCH(dim3(static_cast<unsigned>(views[0].sizes[0])), dim3(wave), 0, nullptr, wave_sum<32>)(in, out);
      else
        AITER_LAUNCH(dim3(static_cast<unsigned>(views[0].sizes[0])), dim3(wave), 0, nullptr,
                     wave_sum<AITER_DEVICE_WARP>)(in, out);
      return 0;
    case 2:  // rotate without the barrier: views (blocks, threads)
    case 3:  // ... with it
      if (views[0].ndim != 2) return -1;
      if (which == 2)
        AITER_LAUNCH(dim3(static_cast<unsigned>(views[0].sizes[0])), dim3(static_cast<unsigned>(views[0].sizes[1])),
                     0, nullptr, rotate_through_shared<false>)(in, out);
      else
        AITER_LAUNCH(dim3(static_cast<unsigned>(views[0].sizes[0])), dim3(static_cast<unsigned>(views[0].sizes[1])),
                     0, nullptr, rotate_through_shared<true>)(in, out);
      return 0;
    case 4:  // row sums reading one past each row: views[0] (rows, hidden) with a row stride
    case 5:  // ... within the rows
      if (views[0].ndim != 2) return -1;
      if (which == 4)
        AITER_LAUNCH(dim3(static_cast<unsigned>(views[0].sizes[0])), dim3(1), 0, nullptr, row_sum<true>)(
            in, views[0].strides[0], static_cast<int>(views[0].sizes[1]), out);
      else
        AITER_LAUNCH(dim3(static_cast<unsigned>(views[0].sizes[0])), dim3(1), 0, nullptr, row_sum<false>)(
            in, views[0].strides[0], static_cast<int>(views[0].sizes[1]), out);
      return 0;
    default:
      return -1;
  }
}

}  // namespace aiter_simt
