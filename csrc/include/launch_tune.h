// The launch policy for one GPU, in one place for the GPU launcher, the
// launch simulation and the tests: the device's properties, the defaults
// derived from them (derive_target), and the tuning keys a per-GPU table
// (aiter/tuning/*.json, written by tools/tune_launch.py) or AITER_LAUNCH_TUNE
// set on top of them (apply_tune). Host code only; no torch.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <string>

#include "launch_config.h"

namespace aiter {

// What the runtime reports about a GPU (0 where it reports nothing).
struct DeviceProps {
  int warp_size = 32;           // 64 on gfx9 (wave64)
  int sm_count = 0;             // SMs / CUs
  int max_threads_per_sm = 0;   // resident threads per SM / CU
  int max_blocks_per_sm = 0;    // resident blocks per SM / CU
  int regs_per_sm = 0;          // 32-bit registers per SM / CU
  int64_t shared_per_sm = 0;    // bytes of shared memory (LDS) per SM / CU
  int64_t l2_bytes = 0;         // last-level cache the runtime reports
  int64_t mem_clock_khz = 0;    // memory clock
  int mem_bus_bits = 0;         // memory bus width
  int async_copy = 0;           // global -> shared asynchronous copies (CUDA sm_80+)
  // The platform's block bound for LayerNorm and quantising kernels
  // (max_block_threads): this build's, or gfx9's (0) where a target is
  // planned off the hardware (simulation, CPU executor).
  int epilogue_full_blocks = kEpilogueFullBlocks;
};

// Peak DRAM bandwidth from the memory clock and bus width (double data
// rate), in GB/s; 0 where the runtime reports neither. Recorded with each
// tuned table and benchmark; no launch decision reads it yet.
inline double peak_dram_gbps(const DeviceProps& d) {
  return 2.0 * static_cast<double>(d.mem_clock_khz) * 1e3 * (d.mem_bus_bits / 8.0) / 1e9;
}

// Smallest power-of-two block of at least `floor` threads with which
// max_blocks_per_sm resident blocks still fill an SM's threads: a block of
// a many-row launch must not be so small that the per-SM block limit, not
// the threads, caps occupancy (lone warps left packed-row launches bound by
// block scheduling on the H100: dense_row_threads). 256 on the H100 (2048
// threads, 32 blocks) and on gfx942 (2048 threads a CU).
inline int filling_block_threads(const DeviceProps& d, int floor) {
  int threads = floor;
  if (d.max_blocks_per_sm > 0)
    while (threads < kMaxBlockThreads && static_cast<int64_t>(threads) * d.max_blocks_per_sm < d.max_threads_per_sm)
      threads <<= 1;
  return threads;
}

// The launch policy a GPU gets without a tuned table. What the device
// decides: the warp width, SMs and resident threads (the planner's
// decode / many-row boundaries and grid sizes follow from them; launchers
// size persistent grids from each kernel instantiation's own occupancy,
// registers and shared memory included), asynchronous copies (staging), and
// the block sizes of short and packed rows (filling_block_threads). The
// other fields keep the values measured on the H100 (their comments in
// TargetInfo); a per-GPU table revisits the ones that do not change results.
inline TargetInfo derive_target(const DeviceProps& d) {
  TargetInfo t{d.warp_size, d.sm_count, d.max_threads_per_sm};
  t.async_copy = d.async_copy ? 1 : 0;
  t.epilogue_full_blocks = d.epilogue_full_blocks;
  t.short_row_threads = filling_block_threads(d, t.short_row_threads);
  t.dense_packed_threads = filling_block_threads(d, t.dense_packed_threads);
  return t;
}

// One AITER_LAUNCH_TUNE / table key: the TargetInfo field it sets and the
// values it takes.
struct TuneKey {
  const char* name;
  int TargetInfo::*field;
  int lo, hi;
  bool pow2;
  // Sets how many lanes and chunks hold a row, so its reduction order and
  // result bits: allowed in AITER_LAUNCH_TUNE for experiments, refused in
  // tables (tuning never changes results).
  bool changes_bits;
};

inline const TuneKey* tune_keys(int* count) {
  static const TuneKey keys[] = {
      {"short_chunks", &TargetInfo::short_row_chunks, 1, kMaxCachedChunks, true, true},
      {"long_chunks", &TargetInfo::long_row_chunks, 1, kMaxCachedChunks, true, true},
      {"short_quant_chunks", &TargetInfo::short_quant_row_chunks, 1, kMaxCachedChunks, true, true},
      {"short_threads", &TargetInfo::short_row_threads, 64, kMaxBlockThreads, true, false},
      {"grid_waves", &TargetInfo::grid_waves, 0, 8, false, false},
      {"batch_rows", &TargetInfo::batch_rows, 0, 1, false, false},
      {"stage_rows", &TargetInfo::stage_rows, 0, 1, false, false},
      {"dense_rows", &TargetInfo::dense_rows, 0, 1, false, false},
      {"dense_prefetch", &TargetInfo::dense_prefetch, 0, 1, false, false},
      {"packed_threads", &TargetInfo::dense_packed_threads, 64, kMaxBlockThreads, true, false},
      {"decode_split", &TargetInfo::decode_split, 0, 2, false, false},
      {"decode_slices", &TargetInfo::dense_decode_slices, 1, 8, true, false},
      {"dense_split", &TargetInfo::dense_decode_split, 0, 1, false, false},
  };
  *count = static_cast<int>(sizeof(keys) / sizeof(keys[0]));
  return keys;
}

inline const TuneKey* find_tune_key(const std::string& name) {
  int n = 0;
  const TuneKey* keys = tune_keys(&n);
  for (int i = 0; i < n; ++i)
    if (name == keys[i].name) return &keys[i];
  return nullptr;
}

namespace tune_detail {
inline std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

inline bool parse_int(const std::string& s, int* out) {
  if (s.empty() || s.size() > 9) return false;
  int v = 0;
  for (const char ch : s) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + (ch - '0');
  }
  *out = v;
  return true;
}
}  // namespace tune_detail

// Applies "key=value,key=value" ("" applies nothing) to *t. Returns "" or
// what is wrong, in which case *t is unchanged. `table_only` refuses the
// keys that change results (TuneKey::changes_bits).
inline std::string apply_tune(TargetInfo* t, const std::string& spec, bool table_only = false) {
  TargetInfo next = *t;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string::npos) comma = spec.size();
    const std::string item = tune_detail::trim(spec.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) {
      if (comma == spec.size()) break;
      return "empty item in '" + spec + "'";
    }
    const auto eq = item.find('=');
    if (eq == std::string::npos) return "expected key=value, got '" + item + "'";
    const std::string name = tune_detail::trim(item.substr(0, eq));
    const TuneKey* key = find_tune_key(name);
    if (key == nullptr) return "unknown key '" + name + "'";
    if (table_only && key->changes_bits)
      return "key '" + name + "' changes how a row is reduced (its result bits); tables may not set it";
    int value = 0;
    if (!tune_detail::parse_int(tune_detail::trim(item.substr(eq + 1)), &value) || value < key->lo ||
        value > key->hi || (key->pow2 && (value & (value - 1)) != 0))
      return "'" + item + "': " + name + " takes " + (key->pow2 ? "a power of two " : "an integer ") + "in [" +
             std::to_string(key->lo) + ", " + std::to_string(key->hi) + "]";
    next.*(key->field) = value;
  }
  *t = next;
  return "";
}

// A table's key for a device name: CUDA's device name, or the gfx arch on
// ROCm ("gfx942:sramecc+:xnack-" -> "gfx942"), lower case, runs of other
// characters as one '_' ("NVIDIA H100 80GB HBM3" -> "nvidia_h100_80gb_hbm3").
inline std::string device_key(const std::string& name) {
  std::string key;
  const std::string base = name.substr(0, name.find(':'));
  for (const char ch : base) {
    const bool alnum = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
    if (alnum)
      key += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    else if (!key.empty() && key.back() != '_')
      key += '_';
  }
  while (!key.empty() && key.back() == '_') key.pop_back();
  return key;
}

}  // namespace aiter
