// The executor's memory checker. Kernel translation units are compiled with
// -fsanitize=thread, which makes the compiler call __tsan_readN /
// __tsan_writeN before every memory access it cannot prove private; this
// file defines those hooks (no ThreadSanitizer runtime is linked) and
// classifies each access of kernel code:
//   - the running fiber's stack: private, not checked;
//   - this library's thread-local block, where __shared__ arrays live
//     (simt_device.h): shared memory, checked for races between threads of
//     the block with no barrier between them, for reads of bytes no thread
//     of the block wrote, and for accesses past the launch's dynamic size;
//   - the launch's tensors (the caller's views, SimtView): each byte must
//     belong to an input view (loads) or an output view (stores); loads of
//     output-only bytes must follow this launch's store; a byte stored by
//     one thread and loaded or stored by another in another block, or in
//     the same block with no barrier between, is a race;
//   - this library's read-only data (constants): loads only;
//   - anything else is out of bounds.
#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <sstream>
#include <vector>

#include "simt_state.h"

namespace aiter_simt {

// Defined with the dynamic shared array (simt_shared.cpp).
char* dynamic_shared_base();
std::size_t dynamic_shared_capacity();

namespace {

constexpr uint8_t kInput = 1, kOutput = 2;

struct Arena {  // a span of memory one or more views cover, with a cell per byte
  uintptr_t lo = 0, hi = 0;
  std::vector<uint8_t> flags;
  std::vector<int32_t> writer, reader, reader_block, write_epoch, read_epoch;
};

struct SharedCells {
  std::vector<int16_t> writer, reader;
  std::vector<int32_t> write_epoch, read_epoch;
  std::size_t dirty_lo = 0, dirty_hi = 0;  // cells touched in this block
};

thread_local bool g_checking = false;
thread_local uintptr_t g_stack_lo = 0, g_stack_hi = 0;
uintptr_t g_shared_lo = 0, g_shared_hi = 0;      // the thread-local block
uintptr_t g_dynamic_lo = 0, g_dynamic_end = 0;  // the launch's dynamic shared memory
uintptr_t g_dynamic_capacity_end = 0;
std::vector<std::pair<uintptr_t, uintptr_t>> g_readonly;
std::vector<aiter::SimtView> g_views;
std::vector<std::string> g_view_names;
std::vector<Arena> g_arenas;
SharedCells g_shared;

void fill_views_elements(const aiter::SimtView& v, const std::function<void(uintptr_t)>& visit) {
  for (int d = 0; d < v.ndim; ++d)
    if (v.sizes[d] == 0) return;
  int64_t index[aiter::kSimtMaxDims] = {};
  const uintptr_t base = reinterpret_cast<uintptr_t>(v.data);
  for (;;) {
    int64_t offset = 0;
    for (int d = 0; d < v.ndim; ++d) offset += index[d] * v.strides[d];
    visit(base + static_cast<uintptr_t>(offset * v.elem_size));
    int d = v.ndim - 1;
    for (; d >= 0; --d) {
      if (++index[d] < v.sizes[d]) break;
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

std::pair<uintptr_t, uintptr_t> view_span(const aiter::SimtView& v) {
  int64_t last = 0;
  for (int d = 0; d < v.ndim; ++d) {
    if (v.sizes[d] == 0) return {0, 0};
    last += (v.sizes[d] - 1) * v.strides[d];
  }
  const uintptr_t lo = reinterpret_cast<uintptr_t>(v.data);
  return {lo, lo + static_cast<uintptr_t>((last + 1) * v.elem_size)};
}

// Where an address lies, for messages: "'out' +18 bytes".
std::string where(uintptr_t addr) {
  const aiter::SimtView* best = nullptr;
  uintptr_t best_distance = ~uintptr_t{0};
  for (const auto& v : g_views) {
    const auto span = view_span(v);
    const uintptr_t distance = addr < span.first ? span.first - addr : addr >= span.second ? addr - span.second + 1 : 0;
    if (distance < best_distance) {
      best_distance = distance;
      best = &v;
    }
  }
  std::ostringstream m;
  if (best == nullptr) {
    m << "address 0x" << std::hex << addr;
  } else {
    const intptr_t offset = static_cast<intptr_t>(addr - reinterpret_cast<uintptr_t>(best->data));
    m << "'" << best->name << "' " << (offset >= 0 ? "+" : "") << offset << " bytes";
  }
  return m.str();
}

void fault(aiter::SimtFault kind, const char* what, uintptr_t addr, std::size_t size, bool write) {
  std::ostringstream m;
  m << (write ? "store" : "load") << " of " << size << " bytes at " << where(addr) << ": " << what;
  report_fault(kind, m.str());
}

void check_global(Arena& a, uintptr_t addr, std::size_t size, bool write) {
  const int64_t tid = global_thread_id();
  const int32_t block = static_cast<int32_t>(g_block->linear);
  const int32_t epoch = g_block->epoch;
  const int threads = g_block->threads;
  // Ordered before the running thread: the same thread, or the same block
  // before a barrier since (blocks of one launch are never ordered).
  auto ordered = [&](int32_t other, int32_t other_block, int32_t other_epoch) {
    return other == tid || (other_block == block && other_epoch < epoch);
  };
  for (std::size_t i = 0; i < size; ++i) {
    const std::size_t c = addr + i - a.lo;
    const uint8_t f = a.flags[c];
    if (write) {
      if (!(f & kOutput)) {
        fault(f & kInput ? aiter::kSimtWriteToInput : aiter::kSimtOutOfBounds,
              f & kInput ? "an element of an input view only" : "outside every view of the launch", addr + i, size,
              write);
        return;
      }
      const int32_t w = a.writer[c];
      if (w >= 0 && !ordered(w, w / threads, a.write_epoch[c])) {
        fault(aiter::kSimtGlobalRace, ("written before by another thread (global thread " + std::to_string(w) +
                                       "), unordered")
                                          .c_str(),
              addr + i, size, write);
        return;
      }
      const int32_t r = a.reader[c];
      if (r != -1 && r != tid && !(a.reader_block[c] == block && a.read_epoch[c] < epoch)) {
        fault(aiter::kSimtGlobalRace, "read before by another thread, unordered (write after read)", addr + i, size,
              write);
        return;
      }
      a.writer[c] = static_cast<int32_t>(tid);
      a.write_epoch[c] = epoch;
    } else {
      if (!(f & (kInput | kOutput))) {
        fault(aiter::kSimtOutOfBounds, "outside every view of the launch", addr + i, size, write);
        return;
      }
      const int32_t w = a.writer[c];
      if (!(f & kInput) && w < 0) {
        fault(aiter::kSimtUnwrittenRead, "an output element this launch has not written yet", addr + i, size, write);
        return;
      }
      if (w >= 0 && !ordered(w, w / threads, a.write_epoch[c])) {
        fault(aiter::kSimtGlobalRace, ("written by another thread (global thread " + std::to_string(w) +
                                       "), unordered (read after write)")
                                          .c_str(),
              addr + i, size, write);
        return;
      }
      int32_t& r = a.reader[c];
      if (r == -1) r = static_cast<int32_t>(tid);
      else if (r != tid) r = -2;
      int32_t& rb = a.reader_block[c];
      if (rb == -1) rb = block;
      else if (rb != block) rb = -2;
      a.read_epoch[c] = std::max(a.read_epoch[c], epoch);
    }
  }
}

void check_shared(uintptr_t addr, std::size_t size, bool write) {
  if (addr + size > g_dynamic_end && addr < g_dynamic_capacity_end) {
    fault(aiter::kSimtSharedOutOfBounds, "past the launch's dynamic shared memory", addr, size, write);
    return;
  }
  const int16_t t = static_cast<int16_t>(g_block->current);
  const int32_t epoch = g_block->epoch;
  const std::size_t first = addr - g_shared_lo;
  g_shared.dirty_lo = std::min(g_shared.dirty_lo, first);
  g_shared.dirty_hi = std::max(g_shared.dirty_hi, first + size);
  for (std::size_t c = first; c < first + size; ++c) {
    const int16_t w = g_shared.writer[c];
    if (write) {
      if (w >= 0 && w != t && g_shared.write_epoch[c] == epoch) {
        fault(aiter::kSimtSharedRace, ("also written by thread " + std::to_string(w) + " with no barrier between").c_str(),
              addr, size, write);
        return;
      }
      const int16_t r = g_shared.reader[c];
      if (r != -1 && r != t && g_shared.read_epoch[c] == epoch) {
        fault(aiter::kSimtSharedRace, "read by another thread with no barrier between (write after read)", addr, size,
              write);
        return;
      }
      g_shared.writer[c] = t;
      g_shared.write_epoch[c] = epoch;
    } else {
      if (w < 0) {
        fault(aiter::kSimtSharedUninit, "shared memory no thread of this block has written", addr, size, write);
        return;
      }
      if (w != t && g_shared.write_epoch[c] == epoch) {
        fault(aiter::kSimtSharedRace,
              ("written by thread " + std::to_string(w) + " with no barrier between (read after write)").c_str(), addr,
              size, write);
        return;
      }
      int16_t& r = g_shared.reader[c];
      if (r == -1 || g_shared.read_epoch[c] != epoch) {
        r = t;
        g_shared.read_epoch[c] = epoch;
      } else if (r != t) {
        r = -2;
      }
    }
  }
}

void check_access(const void* p, std::size_t size, bool write) {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  if (addr >= g_stack_lo && addr + size <= g_stack_hi) return;
  if (addr >= g_shared_lo && addr + size <= g_shared_hi) return check_shared(addr, size, write);
  for (Arena& a : g_arenas)
    if (addr >= a.lo && addr + size <= a.hi) return check_global(a, addr, size, write);
  if (!write)
    for (const auto& r : g_readonly)
      if (addr >= r.first && addr + size <= r.second) return;
  fault(aiter::kSimtOutOfBounds, "outside every view of the launch", addr, size, write);
}

// This library's thread-local block (shared memory) and read-only segments.
int find_segments(struct dl_phdr_info* info, size_t, void* self_base) {
  if (reinterpret_cast<void*>(info->dlpi_addr) != self_base) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_TLS && info->dlpi_tls_data != nullptr) {
      g_shared_lo = reinterpret_cast<uintptr_t>(info->dlpi_tls_data);
      g_shared_hi = g_shared_lo + ph.p_memsz;
    } else if (ph.p_type == PT_LOAD && !(ph.p_flags & PF_W)) {
      const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
      g_readonly.emplace_back(lo, lo + ph.p_memsz);
    }
  }
  return 1;
}

void locate_shared_memory() {
  if (g_shared_hi != 0) return;
  dynamic_shared_base();  // makes this OS thread's thread-local block exist
  Dl_info self{};
  dladdr(reinterpret_cast<void*>(&locate_shared_memory), &self);
  dl_iterate_phdr(find_segments, self.dli_fbase);
  if (g_shared_hi == 0) {
    report_fault(aiter::kSimtSharedOutOfBounds, "the executor could not locate its shared memory (no PT_TLS data)");
    return;
  }
  const std::size_t bytes = g_shared_hi - g_shared_lo;
  g_shared.writer.assign(bytes, -1);
  g_shared.reader.assign(bytes, -1);
  g_shared.write_epoch.assign(bytes, 0);
  g_shared.read_epoch.assign(bytes, 0);
  g_shared.dirty_lo = bytes;
  g_shared.dirty_hi = 0;
}

}  // namespace

void set_checking(bool on) { g_checking = on; }
void set_stack_bounds(const char* lo, const char* hi) {
  g_stack_lo = reinterpret_cast<uintptr_t>(lo);
  g_stack_hi = reinterpret_cast<uintptr_t>(hi);
}

void set_launch_views(const aiter::SimtView* views, int count) {
  g_views.assign(views, views + count);
  g_view_names.clear();
  for (auto& v : g_views) {  // own the names: the caller's strings may go
    g_view_names.emplace_back(v.name);
  }
  for (std::size_t i = 0; i < g_views.size(); ++i) g_views[i].name = g_view_names[i].c_str();
  // Overlapping spans (a view passed as input and output, Q and K slices of
  // one buffer) share an arena.
  std::vector<std::pair<uintptr_t, uintptr_t>> spans;
  for (const auto& v : g_views) {
    const auto s = view_span(v);
    if (s.second > s.first) spans.push_back(s);
  }
  std::sort(spans.begin(), spans.end());
  g_arenas.clear();
  for (const auto& s : spans) {
    if (!g_arenas.empty() && s.first < g_arenas.back().hi) {
      g_arenas.back().hi = std::max(g_arenas.back().hi, s.second);
    } else {
      Arena a;
      a.lo = s.first;
      a.hi = s.second;
      g_arenas.push_back(std::move(a));
    }
  }
  for (Arena& a : g_arenas) a.flags.assign(a.hi - a.lo, 0);
  for (const auto& v : g_views) {
    const uint8_t flag = v.writable ? kOutput : kInput;
    fill_views_elements(v, [&](uintptr_t element) {
      for (Arena& a : g_arenas)
        if (element >= a.lo && element < a.hi) {
          for (int64_t b = 0; b < v.elem_size; ++b) a.flags[element - a.lo + b] |= flag;
          return;
        }
    });
  }
}

void clear_launch_views() {
  g_views.clear();
  g_view_names.clear();
  g_arenas.clear();
}

void checker_begin_launch(const KernelLaunch& launch) {
  locate_shared_memory();
  g_dynamic_lo = reinterpret_cast<uintptr_t>(dynamic_shared_base());
  g_dynamic_capacity_end = g_dynamic_lo + dynamic_shared_capacity();
  g_dynamic_end = g_dynamic_lo + std::min(launch.dynamic_shared, dynamic_shared_capacity());
  if (launch.dynamic_shared > dynamic_shared_capacity())
    report_fault(aiter::kSimtSharedOutOfBounds, "a launch asks for " + std::to_string(launch.dynamic_shared) +
                                                    " bytes of dynamic shared memory, more than the LDS holds");
  // Launches on one stream are ordered: races are per launch.
  for (Arena& a : g_arenas) {
    const std::size_t n = a.hi - a.lo;
    a.writer.assign(n, -1);
    a.reader.assign(n, -1);
    a.reader_block.assign(n, -1);
    a.write_epoch.assign(n, 0);
    a.read_epoch.assign(n, 0);
  }
}

void checker_begin_block() {
  // A block's shared memory starts unwritten (its contents are the previous
  // block's, which a kernel must not read).
  if (g_shared.dirty_hi > g_shared.dirty_lo) {
    const auto lo = static_cast<std::ptrdiff_t>(g_shared.dirty_lo), hi = static_cast<std::ptrdiff_t>(g_shared.dirty_hi);
    std::fill(g_shared.writer.begin() + lo, g_shared.writer.begin() + hi, int16_t{-1});
    std::fill(g_shared.reader.begin() + lo, g_shared.reader.begin() + hi, int16_t{-1});
  }
  g_shared.dirty_lo = g_shared.writer.size();
  g_shared.dirty_hi = 0;
}

}  // namespace aiter_simt

// --- the instrumentation's entry points ------------------------------------------
#define AITER_SIMT_HOOK extern "C" __attribute__((visibility("hidden")))

namespace {
inline void on_access(const void* p, std::size_t size, bool write) {
  if (aiter_simt::g_checking) aiter_simt::check_access(p, size, write);
}
}  // namespace

AITER_SIMT_HOOK void __tsan_init() {}
AITER_SIMT_HOOK void __tsan_func_entry(void*) {}
AITER_SIMT_HOOK void __tsan_func_exit() {}
#define AITER_SIMT_ACCESS(n)                                                                          \
  AITER_SIMT_HOOK void __tsan_read##n(void* p) { on_access(p, n, false); }                            \
  AITER_SIMT_HOOK void __tsan_write##n(void* p) { on_access(p, n, true); }                            \
  AITER_SIMT_HOOK void __tsan_unaligned_read##n(void* p) { on_access(p, n, false); }                  \
  AITER_SIMT_HOOK void __tsan_unaligned_write##n(void* p) { on_access(p, n, true); }                  \
  AITER_SIMT_HOOK void __tsan_volatile_read##n(void* p) { on_access(p, n, false); }                   \
  AITER_SIMT_HOOK void __tsan_volatile_write##n(void* p) { on_access(p, n, true); }
AITER_SIMT_ACCESS(1)
AITER_SIMT_ACCESS(2)
AITER_SIMT_ACCESS(4)
AITER_SIMT_ACCESS(8)
AITER_SIMT_ACCESS(16)
AITER_SIMT_HOOK void __tsan_read_range(void* p, unsigned long size) { on_access(p, size, false); }
AITER_SIMT_HOOK void __tsan_write_range(void* p, unsigned long size) { on_access(p, size, true); }
// Host code of the kernel files caches occupancy with relaxed atomics.
AITER_SIMT_HOOK int __tsan_atomic32_load(const volatile int* a, int) { return __atomic_load_n(a, __ATOMIC_RELAXED); }
AITER_SIMT_HOOK void __tsan_atomic32_store(volatile int* a, int v, int) { __atomic_store_n(a, v, __ATOMIC_RELAXED); }
