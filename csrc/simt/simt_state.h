// The executor's internal state, shared by its scheduler (simt_runtime.cpp),
// its memory checker (simt_check.cpp) and its C entry points. Not seen by
// kernel code.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "simt_abi.h"
#include "simt_fiber.h"
#include "simt_runtime.h"

namespace aiter_simt {

enum class ThreadState : uint8_t { kReady, kAtBarrier, kAtShuffle, kExited };

struct SimThread {
  Fiber fiber;
  ThreadState state = ThreadState::kReady;
  bool in_kernel = false;  // memory checks on (begin_kernel_code .. end_kernel_code)
  const char* barrier_file = nullptr;
  int barrier_line = 0;
  uint64_t shuffle_value = 0, shuffle_result = 0;
  int shuffle_mask = 0, shuffle_width = 0;
};

// The block being run: its threads run on this OS thread, one at a time.
struct BlockRun {
  const KernelLaunch* launch = nullptr;
  dim3 index;
  int64_t linear = 0;   // block index in the grid, x fastest
  int threads = 0;      // per block
  int current = -1;     // the running thread, -1 in the scheduler
  int32_t epoch = 0;    // barriers completed so far in this block
};

extern thread_local BlockRun* g_block;
extern thread_local std::vector<SimThread>* g_threads;

inline SimThread& current_thread() { return (*g_threads)[g_block->current]; }
// This launch's thread id, unique across its blocks.
inline int64_t global_thread_id() { return g_block->linear * g_block->threads + g_block->current; }

// Faults: counted, the first ones described in the report being filled.
void report_fault(aiter::SimtFault kind, const std::string& what);
// Where faults of the current request go (nullptr: nowhere).
void set_report(aiter::SimtReport* report);
std::string describe_current_thread();
const char* current_kernel_name();

// The checker's per-launch and per-block hooks (simt_check.cpp).
void set_launch_views(const aiter::SimtView* views, int count);
void clear_launch_views();
void checker_begin_launch(const KernelLaunch& launch);
void checker_begin_block();
void set_checking(bool on);  // the running thread's state, on each switch
void set_stack_bounds(const char* lo, const char* hi);

// The target the occupancy answer models (the entry sets it per request).
void set_occupancy_target(int max_threads_per_cu, int64_t shared_bytes_per_cu);

// Demangled name of a kernel entry (dladdr), for reports and coverage.
std::string kernel_name(const void* kernel);
std::vector<std::string> executed_kernels();

}  // namespace aiter_simt
