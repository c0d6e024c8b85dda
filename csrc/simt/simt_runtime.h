// The CPU SIMT executor: runs a kernel launch block by block on one OS
// thread, each GPU thread a fiber that switches only at barriers and wave
// collectives, with AITER_SIMT_WARP-lane waves. The kernel code's memory
// accesses are checked as they happen (simt_check.h): shared-memory races,
// reads of shared memory nothing wrote, global accesses outside the launch's
// tensors, writes to inputs, races between threads on global memory.
//
// Device code reaches it through simt_device.h; a launch is
// AITER_LAUNCH(grid, block, shared, stream, kernel)(args...) (compat.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <tuple>
#include <utility>

struct aiter_simt_stream;

namespace aiter_simt {

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};

// The running fiber's indices (by value: device code must not reach the
// executor's own memory, which the checker would count against it).
dim3 thread_index();
dim3 block_index();
dim3 block_dim();
dim3 grid_dim();

void syncthreads(const char* file, int line);
uint64_t shfl_xor_bits(uint64_t bits, int lane_mask, int width);
int occupancy_blocks(int threads, size_t dynamic_shared);

// One launch, as the executor receives it: `body` runs the kernel for the
// calling fiber's thread.
struct KernelLaunch {
  dim3 grid, block;
  size_t dynamic_shared;
  const void* kernel;  // for its name in reports and the executed-kernel list
  std::function<void()> body;
};
void run_launch(const KernelLaunch& launch);

// Memory checks apply to kernel code only: on from the first line of a
// thread's kernel call to its return.
void begin_kernel_code();
void end_kernel_code();

template <typename... Params, std::size_t... I>
void call_kernel(void (*kernel)(Params...), std::tuple<std::decay_t<Params>...> args, std::index_sequence<I...>) {
  // `args` is this fiber's own copy (its stack), made before checks begin.
  begin_kernel_code();
  kernel(std::get<I>(args)...);
  end_kernel_code();
}

// What AITER_LAUNCH builds: Launch(grid, block, shared, stream, &kernel)(args).
template <typename... Params>
class Launch {
 public:
  Launch(dim3 grid, dim3 block, size_t shared, aiter_simt_stream*, void (*kernel)(Params...))
      : grid_(grid), block_(block), shared_(shared), kernel_(kernel) {}

  template <typename... Args>
  void operator()(Args&&... args) const {
    using Tuple = std::tuple<std::decay_t<Params>...>;
    const Tuple params(std::forward<Args>(args)...);
    auto* kernel = kernel_;
    KernelLaunch launch{grid_, block_, shared_, reinterpret_cast<const void*>(kernel_),
                        [&params, kernel] { call_kernel(kernel, params, std::index_sequence_for<Params...>{}); }};
    run_launch(launch);
  }

 private:
  dim3 grid_, block_;
  size_t shared_;
  void (*kernel_)(Params...);
};

}  // namespace aiter_simt
