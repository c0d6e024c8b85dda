// The executor's scheduler: a launch's blocks in turn on this OS thread, a
// block's threads as fibers. Each pass runs every ready thread until it
// reaches a barrier, a shuffle or its end; then complete waves exchange
// their shuffle values and, once every live thread waits at it, the barrier
// opens. Threads of a block never run at once, so what the kernels'
// arithmetic gives here is what one interleaving of the hardware gives; the
// checker (simt_check.cpp) catches the accesses whose order is not fixed.
#include <cxxabi.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>

#include "simt_state.h"

namespace aiter_simt {

thread_local BlockRun* g_block = nullptr;
thread_local std::vector<SimThread>* g_threads = nullptr;

namespace {

// Room for a kernel's frames (the deepest instantiation at -O1 with the
// checker's calls uses a few KiB).
constexpr std::size_t kStackBytes = 256 * 1024;
constexpr int kMaxMessages = 24;

aiter::SimtReport* g_report = nullptr;
int g_messages = 0;
Fiber g_scheduler;
std::set<const void*> g_executed;
int g_max_threads_per_cu = 2048;
int64_t g_shared_bytes_per_cu = 64 * 1024;

void switch_to_scheduler() {
  SimThread& t = current_thread();
  set_checking(false);
  fiber_switch(t.fiber, g_scheduler);
  // Resumed by the scheduler (resume_thread set the checks back).
}

void resume_thread(int index) {
  g_block->current = index;
  SimThread& t = (*g_threads)[index];
  set_stack_bounds(t.fiber.stack_lo, t.fiber.stack_hi);
  set_checking(t.in_kernel);
  fiber_switch(g_scheduler, t.fiber);
  set_checking(false);
  g_block->current = -1;
}

void thread_main(void*) {
  g_block->launch->body();
  current_thread().state = ThreadState::kExited;
  switch_to_scheduler();
  std::abort();  // an exited fiber is never resumed
}

bool live(const SimThread& t) { return t.state != ThreadState::kExited; }

// HIP's source lane for __shfl_xor (amd_warp_functions.h): self ^ mask,
// unless that lies at or past the end of self's width-lane group.
int shuffle_source(int self, int mask, int width) {
  const int index = self ^ mask;
  return index >= ((self + width) & ~(width - 1)) ? self : index;
}

// Exchanges the values of wave `wave` whose live lanes all wait at a shuffle.
void complete_shuffle(std::vector<SimThread>& threads, int first, int end) {
  const SimThread* lead = nullptr;
  for (int i = first; i < end; ++i)
    if (live(threads[i])) {
      lead = &threads[i];
      break;
    }
  const int width = lead->shuffle_width;
  if (width < 1 || width > AITER_SIMT_WARP || (width & (width - 1)) != 0)
    report_fault(aiter::kSimtDivergence, "shuffle width " + std::to_string(width) +
                                              " is not a power of two no wider than the wave (" +
                                              std::to_string(AITER_SIMT_WARP) + ")");
  for (int i = first; i < end; ++i) {
    SimThread& t = threads[i];
    if (!live(t)) continue;
    if (t.shuffle_mask != lead->shuffle_mask || t.shuffle_width != width) {
      std::ostringstream m;
      m << "lanes of wave " << first / AITER_SIMT_WARP << " shuffle with different masks or widths ("
        << lead->shuffle_mask << "/" << width << " and " << t.shuffle_mask << "/" << t.shuffle_width << ")";
      report_fault(aiter::kSimtDivergence, m.str());
    }
    const int src = first + shuffle_source(i - first, t.shuffle_mask, t.shuffle_width > 0 ? t.shuffle_width : 1);
    if (src >= end || !live(threads[src])) {
      std::ostringstream m;
      m << "lane " << i - first << " of wave " << first / AITER_SIMT_WARP << " reads lane " << src - first
        << ", which is not at the shuffle (exited or absent)";
      report_fault(aiter::kSimtDivergence, m.str());
      t.shuffle_result = 0;
    } else {
      t.shuffle_result = threads[src].shuffle_value;
    }
  }
  for (int i = first; i < end; ++i)
    if (live(threads[i])) threads[i].state = ThreadState::kReady;
}

// After a pass: completes what can be completed. False when nothing can (a
// divergence that would hang the hardware).
bool complete_collectives(std::vector<SimThread>& threads, int n) {
  bool progressed = false;
  for (int first = 0; first < n; first += AITER_SIMT_WARP) {
    const int end = std::min(n, first + AITER_SIMT_WARP);
    bool any = false, all = true;
    for (int i = first; i < end; ++i) {
      if (!live(threads[i])) continue;
      any = true;
      all = all && threads[i].state == ThreadState::kAtShuffle;
    }
    if (any && all) {
      complete_shuffle(threads, first, end);
      progressed = true;
    }
  }
  if (progressed) return true;
  const SimThread* lead = nullptr;
  for (int i = 0; i < n; ++i) {
    const SimThread& t = threads[i];
    if (!live(t)) continue;
    if (t.state != ThreadState::kAtBarrier) return false;
    if (lead == nullptr) lead = &t;
  }
  if (lead == nullptr) return false;
  for (int i = 0; i < n; ++i) {
    const SimThread& t = threads[i];
    if (live(t) && (t.barrier_line != lead->barrier_line || std::strcmp(t.barrier_file, lead->barrier_file) != 0)) {
      std::ostringstream m;
      m << "threads of one block wait at different barriers (" << lead->barrier_file << ":" << lead->barrier_line
        << " and " << t.barrier_file << ":" << t.barrier_line << ")";
      report_fault(aiter::kSimtDivergence, m.str());
      break;
    }
  }
  ++g_block->epoch;
  for (int i = 0; i < n; ++i)
    if (live(threads[i])) threads[i].state = ThreadState::kReady;
  return true;
}

void run_block(BlockRun& block, std::vector<SimThread>& threads) {
  for (int i = 0; i < block.threads; ++i) {
    SimThread& t = threads[i];
    t.state = ThreadState::kReady;
    t.in_kernel = false;
    fiber_prepare(t.fiber, kStackBytes, thread_main, nullptr);
  }
  checker_begin_block();
  for (;;) {
    bool any_live = false;
    for (int i = 0; i < block.threads; ++i) {
      if (threads[i].state == ThreadState::kReady) resume_thread(i);
      any_live = any_live || live(threads[i]);
    }
    if (!any_live) return;
    if (!complete_collectives(threads, block.threads)) {
      std::ostringstream m;
      m << "block " << block.linear << " cannot go on: some threads wait at a barrier while lanes of their "
        << "waves wait at a shuffle (divergent control flow around a collective)";
      report_fault(aiter::kSimtDivergence, m.str());
      return;  // the stranded fibers are re-made for the next block
    }
  }
}

}  // namespace

dim3 thread_index() {
  const int t = g_block->current;
  const dim3 b = g_block->launch->block;
  return dim3(t % b.x, (t / b.x) % b.y, t / (b.x * b.y));
}
dim3 block_index() { return g_block->index; }
dim3 block_dim() { return g_block->launch->block; }
dim3 grid_dim() { return g_block->launch->grid; }

void syncthreads(const char* file, int line) {
  SimThread& t = current_thread();
  t.barrier_file = file;
  t.barrier_line = line;
  t.state = ThreadState::kAtBarrier;
  switch_to_scheduler();
}

uint64_t shfl_xor_bits(uint64_t bits, int lane_mask, int width) {
  SimThread& t = current_thread();
  t.shuffle_value = bits;
  t.shuffle_mask = lane_mask;
  t.shuffle_width = width;
  t.state = ThreadState::kAtShuffle;
  switch_to_scheduler();
  return current_thread().shuffle_result;
}

// Blocks resident per CU for a launch shape: what threads and LDS allow
// (register pressure is not modelled: it would only shrink the persistent
// grid, i.e. give each block more row groups, which other launches cover).
int occupancy_blocks(int threads, size_t dynamic_shared) {
  int blocks = threads > 0 ? g_max_threads_per_cu / threads : 1;
  if (dynamic_shared > 0)
    blocks = std::min<int64_t>(blocks, g_shared_bytes_per_cu / static_cast<int64_t>(dynamic_shared));
  return std::max(blocks, 1);
}

void set_occupancy_target(int max_threads_per_cu, int64_t shared_bytes_per_cu) {
  g_max_threads_per_cu = max_threads_per_cu;
  g_shared_bytes_per_cu = shared_bytes_per_cu;
}

void begin_kernel_code() {
  current_thread().in_kernel = true;
  set_checking(true);
}
void end_kernel_code() {
  set_checking(false);
  current_thread().in_kernel = false;
}

void run_launch(const KernelLaunch& launch) {
  const int64_t threads = int64_t{launch.block.x} * launch.block.y * launch.block.z;
  const int64_t blocks = int64_t{launch.grid.x} * launch.grid.y * launch.grid.z;
  if (g_report != nullptr) {
    ++g_report->launches;
    g_report->blocks += blocks;
    g_report->threads += blocks * threads;
    g_report->last_grid = blocks;
    g_report->last_block = threads;
    g_report->last_dynamic_shared = static_cast<int64_t>(launch.dynamic_shared);
  }
  g_executed.insert(launch.kernel);
  if (threads < 1 || threads > 1024) {
    report_fault(aiter::kSimtDivergence, "a block of " + std::to_string(threads) + " threads cannot launch");
    return;
  }
  // Fibers (and their stacks) live as long as the OS thread; a block uses
  // the first `threads` of them.
  static thread_local std::vector<SimThread> pool;
  if (pool.size() < static_cast<std::size_t>(threads)) pool.resize(static_cast<std::size_t>(threads));
  checker_begin_launch(launch);
  BlockRun block;
  block.launch = &launch;
  block.threads = static_cast<int>(threads);
  g_block = &block;
  g_threads = &pool;
  int64_t linear = 0;
  for (unsigned z = 0; z < launch.grid.z; ++z)
    for (unsigned y = 0; y < launch.grid.y; ++y)
      for (unsigned x = 0; x < launch.grid.x; ++x, ++linear) {
        block.index = dim3(x, y, z);
        block.linear = linear;
        block.epoch = 0;
        run_block(block, pool);
      }
  g_block = nullptr;
  g_threads = nullptr;
}

void set_report(aiter::SimtReport* report) {
  g_report = report;
  g_messages = 0;
  if (report != nullptr) std::memset(report, 0, sizeof *report);
}

void report_fault(aiter::SimtFault kind, const std::string& what) {
  if (g_report == nullptr) return;
  ++g_report->faults[kind];
  if (g_messages >= kMaxMessages) return;
  ++g_messages;
  std::string line = std::string(current_kernel_name()) + ": " + describe_current_thread() + what + "\n";
  const std::size_t used = std::strlen(g_report->messages);
  const std::size_t room = aiter::kSimtMessageBytes - 1 - used;
  std::strncat(g_report->messages, line.c_str(), room);
}

std::string describe_current_thread() {
  if (g_block == nullptr || g_block->current < 0) return "";
  std::ostringstream m;
  m << "block " << g_block->linear << " thread " << g_block->current << ": ";
  return m.str();
}

const char* current_kernel_name() {
  static thread_local std::string name;
  name = g_block != nullptr ? kernel_name(g_block->launch->kernel) : std::string("executor");
  return name.c_str();
}

std::string kernel_name(const void* kernel) {
  Dl_info info{};
  if (dladdr(kernel, &info) == 0 || info.dli_sname == nullptr) return "(unnamed kernel)";
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status),
                                                   std::free);
  return status == 0 && demangled ? std::string(demangled.get()) : std::string(info.dli_sname);
}

std::vector<std::string> executed_kernels() {
  std::vector<std::string> names;
  for (const void* k : g_executed) names.push_back(kernel_name(k));
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace aiter_simt
