// The C interface between the extension (aiter._C, which checks and plans a
// call exactly as for the GPU) and a CPU SIMT executor library (one per wave
// width, built by aiter/simt/build.py). Plain data only: the two sides are
// separate shared objects compiled from the same headers.
#pragma once
#include <stdint.h>

#include "../include/launch_config.h"

namespace aiter {

// One tensor argument as the caller's view: the elements a launch may touch.
constexpr int kSimtMaxDims = 8;
struct SimtView {
  const char* name;   // the argument's name, for reports
  const void* data;   // the view's first element
  int64_t elem_size;  // bytes
  int32_t ndim;
  int32_t writable;   // an output (may also be an input: in-place calls pass both)
  int64_t sizes[kSimtMaxDims];
  int64_t strides[kSimtMaxDims];  // in elements
};

// What the executor found, per kind of fault.
enum SimtFault : int32_t {
  kSimtOutOfBounds = 0,     // a global access outside every view of the launch
  kSimtWriteToInput,        // a store to an element only input views hold
  kSimtUnwrittenRead,       // a load of an output element this launch has not written
  kSimtGlobalRace,          // two threads, one writing, no barrier between (different blocks never are)
  kSimtSharedRace,          // the same in shared memory
  kSimtSharedUninit,        // a load of shared memory no thread of the block wrote
  kSimtSharedOutOfBounds,   // past the launch's dynamic shared memory
  kSimtDivergence,          // barriers at different sites, or a wave's lanes apart at a shuffle
  kSimtFaultKinds
};

constexpr const char* kSimtFaultNames[kSimtFaultKinds] = {
    "out_of_bounds", "write_to_input", "unwritten_read", "global_race",
    "shared_race",   "shared_uninit",  "shared_out_of_bounds", "divergence"};

constexpr int kSimtMessageBytes = 8192;
struct SimtReport {
  int64_t faults[kSimtFaultKinds];
  int64_t launches, blocks, threads;
  int64_t last_grid, last_block, last_dynamic_shared;  // the last launch's shape
  char messages[kSimtMessageBytes];  // the first faults, one per line
};

struct SimtNormRequest {
  const NormParams* params;
  TargetInfo target;
  const SimtView* views;
  int32_t view_count;
};

}  // namespace aiter

extern "C" {
// The executor's wave width (its AITER_SIMT_WARP).
int aiter_simt_warp_size();
// Plans (choose_launch for request->target) and runs one norm call's launch.
// Returns 0, or -1 when no kernel exists for the launch (as the GPU
// launcher's launch_norm_rows), -2 for an unsupported launch; faults go to
// *report either way.
int aiter_simt_run_norm(const aiter::SimtNormRequest* request, aiter::SimtReport* report);
// The kernels' encoders over n floats (n a multiple of 8), as
// launch_quantize_bytes runs them.
int aiter_simt_quantize_bytes(const float* in, uint8_t* out, int64_t n, int32_t format, aiter::SimtReport* report);
// Every kernel run so far, demangled, one per line; returns the bytes
// needed (including the terminating NUL).
int64_t aiter_simt_executed_kernels(char* buffer, int64_t size);
// The executor's fp16 / bf16 conversions (simt_device.h: __float2half_rn,
// __float2bfloat16 and back), element by element, for tests against torch.
int aiter_simt_narrow(int32_t to_bf16, const float* in, uint16_t* out, int64_t n);
int aiter_simt_widen(int32_t from_bf16, const uint16_t* in, float* out, int64_t n);
// Runs planted-fault kernel `which` (planted_faults.cpp) on views[0] (its
// input) and views[1] (its output).
int aiter_simt_run_planted(int32_t which, const aiter::SimtView* views, int32_t count, aiter::SimtReport* report);
}
