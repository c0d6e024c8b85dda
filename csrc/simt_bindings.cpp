// pybind11 entry points of the CPU SIMT executor route (host/simt_dispatch.h),
// used by aiter/simt/.
#include "simt_bindings.h"

#include <pybind11/stl.h>

#include "host/launch_policy.h"
#include "host/message.h"
#include "host/simt_dispatch.h"

namespace aiter {
namespace {

// The target as the GPU launcher resolves one (derived from its properties,
// then its table and AITER_LAUNCH_TUNE: launch_policy.h), named `device`
// (e.g. "gfx942") for the table lookup.
void simt_use_py(const std::string& path, const std::string& device, int warp_size, int sm_count,
                 int max_threads_per_sm, bool epilogue_full_blocks, bool raise_on_fault) {
  if (path.empty()) {
    simt_use(path, TargetInfo{}, raise_on_fault);
    return;
  }
  DeviceProps props;
  props.warp_size = warp_size;
  props.sm_count = sm_count;
  props.max_threads_per_sm = max_threads_per_sm;
  props.async_copy = 0;  // the executor has none, as ROCm
  props.epilogue_full_blocks = epilogue_full_blocks ? 1 : 0;
  simt_use(path, resolve_target(props, device).target, raise_on_fault);
}

py::dict simt_report_py() {
  const SimtReport& r = simt_last_report();
  py::dict faults;
  for (int k = 0; k < kSimtFaultKinds; ++k) faults[kSimtFaultNames[k]] = r.faults[k];
  py::dict d;
  d["faults"] = faults;
  d["launches"] = r.launches;
  d["blocks"] = r.blocks;
  d["threads"] = r.threads;
  d["grid"] = r.last_grid;
  d["block"] = r.last_block;
  d["dynamic_shared"] = r.last_dynamic_shared;
  d["messages"] = std::string(r.messages);
  d["calls"] = simt_calls();
  return d;
}

}  // namespace

void register_simt_bindings(py::module& m) {
  m.def("simt_load", &simt_load, py::arg("path"));
  m.def("simt_use", &simt_use_py, py::arg("path"), py::arg("device") = "gfx942", py::arg("warp_size") = 64,
        py::arg("sm_count") = 304,
        py::arg("max_threads_per_sm") = 2048, py::arg("epilogue_full_blocks") = false,
        py::arg("raise_on_fault") = true);
  m.def("simt_active", &simt_active);
  m.def("simt_report", &simt_report_py);
  m.def("simt_run_planted", &simt_run_planted, py::arg("which"), py::arg("input"), py::arg("output"));
  m.def("simt_executed_kernels", &simt_executed_kernels, py::arg("path"));
}

}  // namespace aiter
