// Host-side simulation of a GPU launch: walks every thread of the grid the
// launcher would choose for a target, through the same thread -> element
// functions the kernels use (launch_config.h), and counts each element's
// reads and writes. Proves, without the hardware, that a launch shape for
// wave64 (gfx942) or warp32 (CUDA) touches each element of each view the
// right number of times and nothing else.
#pragma once
#include <torch/types.h>

#include <string>

#include "../include/compact_params.h"
#include "../include/launch_config.h"
#include "norm_launcher.h"

namespace aiter {

struct AccessCounts {
  at::Tensor reads, writes;  // int32, one per element offset from the view's data pointer
};

struct SimulationResult {
  LaunchConfig config{};
  AccessCounts input, residual_in, out, residual_out;
  AccessCounts yscale, unquant, input_b, out_b;  // quantising variants / a two-job launch
  int64_t misaligned_vectors = 0;  // vector accesses not aligned to their width
  int64_t outside_span = 0;        // accesses past a view's last element
  std::string shape_violations;    // launch-shape rules the target breaks
  bool compact_params = false;     // walked through the CompactLaunch round trip
};

// `blocks_per_sm` stands for the kernel's occupancy (which sets the grid);
// 0 takes the launcher's own estimate. walk = false plans only (config,
// compact_params, shape_violations), without the per-element walk.
SimulationResult simulate_launch(const NormCall& call, const TargetInfo& target,
                                 int64_t blocks_per_sm, bool walk = true);

}  // namespace aiter
