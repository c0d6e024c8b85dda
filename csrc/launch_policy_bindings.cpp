#include "launch_policy_bindings.h"

#include <pybind11/stl.h>

#include "host/gpu_launch.h"
#include "host/launch_policy.h"
#include "host/message.h"
#include "include/launch_tune.h"

namespace aiter {
namespace {

// A target as a dict: the device fields, then every tune key by its name.
py::dict target_dict(const TargetInfo& t) {
  py::dict d;
  d["warp_size"] = t.warp_size;
  d["sm_count"] = t.sm_count;
  d["max_threads_per_sm"] = t.max_threads_per_sm;
  d["async_copy"] = t.async_copy;
  int n = 0;
  const TuneKey* keys = tune_keys(&n);
  for (int i = 0; i < n; ++i) d[keys[i].name] = t.*(keys[i].field);
  return d;
}

py::dict props_dict(const DeviceProps& p) {
  py::dict d;
  d["warp_size"] = p.warp_size;
  d["sm_count"] = p.sm_count;
  d["max_threads_per_sm"] = p.max_threads_per_sm;
  d["max_blocks_per_sm"] = p.max_blocks_per_sm;
  d["regs_per_sm"] = p.regs_per_sm;
  d["shared_per_sm"] = p.shared_per_sm;
  d["l2_bytes"] = p.l2_bytes;
  d["mem_clock_khz"] = p.mem_clock_khz;
  d["mem_bus_bits"] = p.mem_bus_bits;
  d["async_copy"] = p.async_copy;
  d["peak_dram_gbps"] = peak_dram_gbps(p);
  return d;
}

DeviceProps make_props(int warp_size, int sm_count, int max_threads_per_sm, int max_blocks_per_sm, int regs_per_sm,
                       int64_t shared_per_sm, int64_t l2_bytes, int64_t mem_clock_khz, int mem_bus_bits,
                       bool async_copy) {
  TORCH_CHECK_VALUE(warp_size > 0 && sm_count > 0 && max_threads_per_sm > 0,
                    aiter::message("device properties: warp_size, sm_count and max_threads_per_sm must be positive"));
  DeviceProps p;
  p.warp_size = warp_size;
  p.sm_count = sm_count;
  p.max_threads_per_sm = max_threads_per_sm;
  p.max_blocks_per_sm = max_blocks_per_sm;
  p.regs_per_sm = regs_per_sm;
  p.shared_per_sm = shared_per_sm;
  p.l2_bytes = l2_bytes;
  p.mem_clock_khz = mem_clock_khz;
  p.mem_bus_bits = mem_bus_bits;
  p.async_copy = async_copy ? 1 : 0;
  return p;
}

#define AITER_PROPS_ARGS                                                                                   \
  py::arg("warp_size"), py::arg("sm_count"), py::arg("max_threads_per_sm"), py::arg("max_blocks_per_sm") = 0, \
      py::arg("regs_per_sm") = 0, py::arg("shared_per_sm") = 0, py::arg("l2_bytes") = 0,                   \
      py::arg("mem_clock_khz") = 0, py::arg("mem_bus_bits") = 0, py::arg("async_copy") = false

}  // namespace

void register_launch_policy(py::module& m) {
  m.def("tune_keys", [] {
    py::list out;
    int n = 0;
    const TuneKey* keys = tune_keys(&n);
    for (int i = 0; i < n; ++i) {
      py::dict k;
      k["name"] = keys[i].name;
      k["lo"] = keys[i].lo;
      k["hi"] = keys[i].hi;
      k["pow2"] = keys[i].pow2;
      k["changes_bits"] = keys[i].changes_bits;
      out.append(k);
    }
    return out;
  }, "Every AITER_LAUNCH_TUNE / table key: its values, and whether it changes result bits (not in tables).");
  m.def("check_tune", [](const std::string& spec, bool table) {
    TargetInfo probe{};
    const std::string why = apply_tune(&probe, spec, table);
    TORCH_CHECK_VALUE(why.empty(), aiter::message(table ? "launch table: " : "launch tune: ", why));
  }, py::arg("spec"), py::arg("table") = false, "ValueError where a tune spec (table=True: a table's) is bad.");
  m.def("device_key", &device_key, py::arg("name"), "The table key of a device name (or gfx arch).");
  m.def("derive_target", [](int warp_size, int sm_count, int max_threads_per_sm, int max_blocks_per_sm,
                            int regs_per_sm, int64_t shared_per_sm, int64_t l2_bytes, int64_t mem_clock_khz,
                            int mem_bus_bits, bool async_copy) {
    return target_dict(derive_target(make_props(warp_size, sm_count, max_threads_per_sm, max_blocks_per_sm,
                                                regs_per_sm, shared_per_sm, l2_bytes, mem_clock_khz,
                                                mem_bus_bits, async_copy)));
  }, AITER_PROPS_ARGS, "The launch policy derived from these device properties (no table, no override).");
  m.def("resolve_target", [](const std::string& device_name, int warp_size, int sm_count, int max_threads_per_sm,
                             int max_blocks_per_sm, int regs_per_sm, int64_t shared_per_sm, int64_t l2_bytes,
                             int64_t mem_clock_khz, int mem_bus_bits, bool async_copy) {
    const ResolvedTarget r = resolve_target(make_props(warp_size, sm_count, max_threads_per_sm, max_blocks_per_sm,
                                                       regs_per_sm, shared_per_sm, l2_bytes, mem_clock_khz,
                                                       mem_bus_bits, async_copy), device_name);
    py::dict d = target_dict(r.target);
    d["source"] = r.source;
    return d;
  }, py::arg("device_name"), AITER_PROPS_ARGS,
     "The launch policy a device of this name and these properties gets now (tables and override applied).");
  m.def("set_launch_tables", &set_launch_tables, py::arg("tables"),
        "Replace the per-GPU tables: {device key or '*': tune spec}.");
  m.def("launch_tables", &launch_tables);
  m.def("set_launch_tune", &set_launch_tune, py::arg("spec"),
        "Replace the override applied on top of a table (AITER_LAUNCH_TUNE until then; '' clears it).");
  m.def("launch_tune", &launch_tune);
  m.def("launch_policy_generation", &launch_policy_generation,
        "Changes with every table or override change (GPU launchers re-resolve their targets then).");
  m.def("launch_target", [](int device) {
    const ResolvedTarget r = gpu_launch_target(device);
    py::dict d = target_dict(r.target);
    d["source"] = r.source;
    d["device_name"] = gpu_device_name(device);
    d["device_key"] = device_key(gpu_device_name(device));
    d["properties"] = props_dict(gpu_device_props(device));
    return d;
  }, py::arg("device"), "GPU builds: the launch policy in force on a device, where it came from, the device's "
                        "properties.");
}

#undef AITER_PROPS_ARGS

}  // namespace aiter
