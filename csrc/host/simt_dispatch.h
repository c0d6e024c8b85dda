// Routing of CPU-tensor calls to a CPU SIMT executor library (csrc/simt/)
// instead of the CPU backend, while one is in use: the call is checked and
// planned exactly as for the GPU, then its launch runs the GPU kernels'
// source with the executor's wave width, for a target such as gfx942.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "../include/launch_config.h"
#include "../simt/simt_abi.h"
#include "norm_launcher.h"

namespace aiter {

// Loads an executor library (once per path) and returns its wave width.
int simt_load(const std::string& path);
// Routes CPU calls to the loaded library at `path` for `target` (its
// warp_size must be the library's); `raise_on_fault`: a call whose launch
// shows faults raises, naming them. An empty path routes back to the CPU
// backend.
void simt_use(const std::string& path, const TargetInfo& target, bool raise_on_fault);
bool simt_active();
// Runs a planned call's launch on the executor in use.
void simt_run_norm(const NormCall& call, const PlannedCall& planned);
// The last executor call's report, and the norm calls routed to the
// executor since simt_use.
const SimtReport& simt_last_report();
int64_t simt_calls();
// Through the executor in use: the kernels' encoders, a planted-fault
// kernel, and the kernels its library has run.
at::Tensor simt_quantize_bytes(const at::Tensor& x, QuantType q);
int simt_run_planted(int which, const at::Tensor& input, const at::Tensor& output);
std::vector<std::string> simt_executed_kernels(const std::string& path);

}  // namespace aiter
