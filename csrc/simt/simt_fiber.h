// Cooperative fibers for the SIMT executor: a GPU thread's stack and saved
// registers, switched explicitly (no signal-mask system call per switch, as
// swapcontext makes: a launch switches millions of times).
#pragma once
#include <cstddef>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace aiter_simt {

struct Fiber {
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t context;
#endif
  char* stack_lo = nullptr;  // usable stack [stack_lo, stack_hi), a guard page below
  char* stack_hi = nullptr;
};

// Gives `f` a stack of `bytes` (once) and makes its next switch-in start
// entry(arg) on it from the top. entry must never return.
void fiber_prepare(Fiber& f, std::size_t bytes, void (*entry)(void*), void* arg);
// Saves the running context into `from` and resumes `to`.
void fiber_switch(Fiber& from, Fiber& to);

}  // namespace aiter_simt
