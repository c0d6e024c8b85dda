// Dynamic shared memory of the executor's launches: the arrays kernels
// declare `extern __shared__` (one name per kernel source), defined here as
// this OS thread's own, at gfx942's 64 KiB of LDS per workgroup. All of a
// GPU launch's extern __shared__ arrays start at the same address; each
// kernel here uses one name, so each name gets its own array.
#include "simt_device.h"

namespace aiter {
alignas(16) thread_local uint4 stage[64 * 1024 / sizeof(uint4)];  // norm_rows_kernel.cuh
}  // namespace aiter

// A TU that declares an `extern thread_local` may call the variable's TLS
// initialisation function; instrumented kernel code (g++ 12,
// -fsanitize=thread) calls it without the null test a weak reference needs.
// The array is zero-initialised, so the function does nothing.
void aiter_simt_stage_tls_init() __asm__("_ZTHN5aiter5stageE");
void aiter_simt_stage_tls_init() {}

namespace aiter_simt {
char* dynamic_shared_base() { return reinterpret_cast<char*>(aiter::stage); }
std::size_t dynamic_shared_capacity() { return sizeof(aiter::stage); }
}  // namespace aiter_simt
