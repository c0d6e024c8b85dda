#include "simt_fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace aiter_simt {
namespace {

void allocate_stack(Fiber& f, std::size_t bytes) {
  if (f.stack_lo != nullptr) return;
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  bytes = (bytes + page - 1) / page * page;
  void* mem = mmap(nullptr, bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) std::abort();
  mprotect(mem, page, PROT_NONE);  // an overflow faults instead of corrupting a neighbour
  f.stack_lo = static_cast<char*>(mem) + page;
  f.stack_hi = f.stack_lo + bytes;
}

}  // namespace

#if defined(__x86_64__)
// System V x86-64: the callee-saved registers, the SSE control/status word
// and the x87 control word are saved on the old stack, its pointer in
// *from; the new stack pointer is loaded and the same popped off it.
extern "C" void aiter_simt_switch_stacks(void** from, void* to);
extern "C" void aiter_simt_fiber_start();
asm(R"(
  .text
  .globl aiter_simt_switch_stacks
  .hidden aiter_simt_switch_stacks
  .type aiter_simt_switch_stacks, @function
aiter_simt_switch_stacks:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size aiter_simt_switch_stacks, .-aiter_simt_switch_stacks

  .globl aiter_simt_fiber_start
  .hidden aiter_simt_fiber_start
  .type aiter_simt_fiber_start, @function
aiter_simt_fiber_start:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size aiter_simt_fiber_start, .-aiter_simt_fiber_start
  .section .note.GNU-stack, "", @progbits
  .text
)");

void fiber_prepare(Fiber& f, std::size_t bytes, void (*entry)(void*), void* arg) {
  allocate_stack(f, bytes);
  // The frame aiter_simt_switch_stacks pops: control words, r15, r14, r13
  // (entry), r12 (arg), rbx, rbp, then the return address
  // aiter_simt_fiber_start, placed so that its call leaves the stack
  // aligned as the ABI wants at entry's first instruction.
  auto* top = reinterpret_cast<uint64_t*>(reinterpret_cast<uintptr_t>(f.stack_hi) & ~uintptr_t{15});
  uint64_t* frame = top - 10;  // 80 bytes: 16-byte aligned
  uint32_t control[2];
  asm volatile("stmxcsr %0; fnstcw %1" : "=m"(control[0]), "=m"(control[1]));
  std::memcpy(&frame[0], control, sizeof control);
  frame[1] = 0;                                  // r15
  frame[2] = 0;                                  // r14
  frame[3] = reinterpret_cast<uint64_t>(entry);  // r13
  frame[4] = reinterpret_cast<uint64_t>(arg);    // r12
  frame[5] = 0;                                  // rbx
  frame[6] = 0;                                  // rbp
  frame[7] = reinterpret_cast<uint64_t>(&aiter_simt_fiber_start);
  f.sp = frame;
}

void fiber_switch(Fiber& from, Fiber& to) { aiter_simt_switch_stacks(&from.sp, to.sp); }
#else
// Elsewhere: ucontext (slower: a system call per switch).
namespace {
void (*g_entry)(void*);
void ucontext_entry(unsigned hi, unsigned lo) {
  const uintptr_t arg = (static_cast<uintptr_t>(hi) << 32) | lo;
  g_entry(reinterpret_cast<void*>(arg));
}
}  // namespace

void fiber_prepare(Fiber& f, std::size_t bytes, void (*entry)(void*), void* arg) {
  allocate_stack(f, bytes);
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = f.stack_lo;
  f.context.uc_stack.ss_size = static_cast<std::size_t>(f.stack_hi - f.stack_lo);
  f.context.uc_link = nullptr;
  g_entry = entry;
  const uintptr_t a = reinterpret_cast<uintptr_t>(arg);
  makecontext(&f.context, reinterpret_cast<void (*)()>(ucontext_entry), 2, static_cast<unsigned>(a >> 32),
              static_cast<unsigned>(a & 0xffffffffu));
}

void fiber_switch(Fiber& from, Fiber& to) { swapcontext(&from.context, &to.context); }
#endif

}  // namespace aiter_simt
