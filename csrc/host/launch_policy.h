// The launch policy in force: per-GPU tables (registered by aiter.tuning at
// import from aiter/tuning/*.json) and an override (AITER_LAUNCH_TUNE, or
// set_launch_tune), layered over the defaults derived from a device's
// properties (launch_tune.h). The GPU launcher resolves a device's target
// through here; the bindings let tests and the tuner set and read it.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "../include/launch_tune.h"

namespace aiter {

struct ResolvedTarget {
  TargetInfo target;
  // Where it came from: "derived", then "table <key>" and "override '<spec>'"
  // where they applied, joined by " + ".
  std::string source;
};

// Tables by device key (device_key(); "*": any device), replacing the ones
// registered before. Each value is a tune spec that may not change results
// (apply_tune's table_only); a bad one raises ValueError and nothing changes.
void set_launch_tables(const std::map<std::string, std::string>& tables);
std::map<std::string, std::string> launch_tables();

// The override, applied on top of a table: AITER_LAUNCH_TUNE (read at first
// use) until set_launch_tune replaces it ("" clears it). Any key is allowed.
void set_launch_tune(const std::string& spec);
std::string launch_tune();

// Changes with every set_launch_tables / set_launch_tune call (starts at 1):
// the GPU launcher keeps a device's resolved target while it is unchanged.
uint64_t launch_policy_generation();

// derive_target(props), then the table for device_key(device_name) (else
// "*", else none), then the override.
ResolvedTarget resolve_target(const DeviceProps& props, const std::string& device_name);

}  // namespace aiter
