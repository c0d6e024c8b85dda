#include "launch_policy.h"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "message.h"

namespace aiter {
namespace {

struct PolicyState {
  std::mutex mu;
  std::map<std::string, std::string> tables;
  bool override_read = false;  // AITER_LAUNCH_TUNE read (once)
  std::string override_spec;
  std::atomic<uint64_t> generation{1};
};

PolicyState& state() {
  static PolicyState s;
  return s;
}

void check_spec(const std::string& what, const std::string& spec, bool table_only) {
  TargetInfo probe{};
  const std::string why = apply_tune(&probe, spec, table_only);
  TORCH_CHECK_VALUE(why.empty(), aiter::message(what, ": ", why));
}

// The override under s.mu: AITER_LAUNCH_TUNE on first use.
const std::string& override_locked(PolicyState& s) {
  if (!s.override_read) {
    const char* env = std::getenv("AITER_LAUNCH_TUNE");
    const std::string spec = env ? env : "";
    check_spec("AITER_LAUNCH_TUNE", spec, false);
    s.override_spec = spec;
    s.override_read = true;
  }
  return s.override_spec;
}

}  // namespace

void set_launch_tables(const std::map<std::string, std::string>& tables) {
  for (const auto& [key, spec] : tables) check_spec("launch table '" + key + "'", spec, true);
  PolicyState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.tables = tables;
  s.generation.fetch_add(1);
}

std::map<std::string, std::string> launch_tables() {
  PolicyState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.tables;
}

void set_launch_tune(const std::string& spec) {
  check_spec("set_launch_tune", spec, false);
  PolicyState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.override_spec = spec;
  s.override_read = true;
  s.generation.fetch_add(1);
}

std::string launch_tune() {
  PolicyState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return override_locked(s);
}

uint64_t launch_policy_generation() { return state().generation.load(std::memory_order_acquire); }

ResolvedTarget resolve_target(const DeviceProps& props, const std::string& device_name) {
  PolicyState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  ResolvedTarget r{derive_target(props), "derived"};
  const std::string key = device_key(device_name);
  auto table = s.tables.find(key);
  if (table == s.tables.end()) table = s.tables.find("*");
  if (table != s.tables.end()) {
    const std::string why = apply_tune(&r.target, table->second, true);
    TORCH_CHECK_VALUE(why.empty(), aiter::message("launch table '", table->first, "': ", why));
    r.source += " + table " + table->first + (table->second.empty() ? "" : " '" + table->second + "'");
  }
  const std::string& over = override_locked(s);
  if (!over.empty()) {
    const std::string why = apply_tune(&r.target, over, false);
    TORCH_CHECK_VALUE(why.empty(), aiter::message("launch override: ", why));
    r.source += " + override '" + over + "'";
  }
  return r;
}

}  // namespace aiter
