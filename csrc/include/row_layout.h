// The row description shared by the layout planner, the CPU implementation,
// the GPU kernels and the launch simulation.
//
// A tensor argument of a norm op is a view whose last dim (size `hidden`,
// stride 1) is the normalised one; every other dim indexes rows. Leading dims
// are collapsed where memory allows, leaving at most kMaxRowDims row dims.
// Row r (row-major over the logical leading shape) then lives at element
// offset sum_d idx_d(r) * strides[d]. All offsets are 64-bit.
#pragma once
#include <stdint.h>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define AITER_HD __host__ __device__ inline __attribute__((always_inline))
#else
#define AITER_HD inline
#endif

namespace aiter {

constexpr int kMaxRowDims = 4;

struct RowLayout {
  int32_t ndim;  // row dims in use (0: a single row at offset 0)
  // Right-aligned: dims in use sit at [kMaxRowDims - ndim, kMaxRowDims), the
  // innermost last; unused slots hold size 1, stride 0. Fixed positions let
  // device code index them statically (no local-memory copy of the params).
  int64_t sizes[kMaxRowDims];
  int64_t strides[kMaxRowDims];  // in elements; 0 allowed on inputs
};

// Element offset of row `row`. One row dim (dense, row-strided 2D, any view
// whose leading dims collapse) costs a multiply; each further dim adds one
// divide, done in 32 bits when the row index fits.
AITER_HD int64_t row_offset(const RowLayout& l, int64_t row) {
  constexpr int kLast = kMaxRowDims - 1;
  if (l.ndim <= 1) return row * l.strides[kLast];  // stride 0 when ndim == 0
  int64_t offset = 0;
  if (row <= INT32_MAX) {
    uint32_t rest = static_cast<uint32_t>(row);
#pragma unroll
    for (int d = kLast; d > 0; --d) {
      if (d > kMaxRowDims - l.ndim) {
        const uint32_t size = static_cast<uint32_t>(l.sizes[d]);
        const uint32_t q = rest / size;
        offset += static_cast<int64_t>(rest - q * size) * l.strides[d];
        rest = q;
      }
    }
#pragma unroll
    for (int d = 0; d < kMaxRowDims; ++d)
      if (d == kMaxRowDims - l.ndim) offset += static_cast<int64_t>(rest) * l.strides[d];
    return offset;
  }
  int64_t rest = row;
#pragma unroll
  for (int d = kLast; d > 0; --d) {
    if (d > kMaxRowDims - l.ndim) {
      const int64_t q = rest / l.sizes[d];
      offset += (rest - q * l.sizes[d]) * l.strides[d];
      rest = q;
    }
  }
#pragma unroll
  for (int d = 0; d < kMaxRowDims; ++d)
    if (d == kMaxRowDims - l.ndim) offset += rest * l.strides[d];
  return offset;
}

// Collapse the leading (row) dims of a view. `sizes`/`strides` hold the
// leading dims only (the last, normalised dim excluded). Size-1 dims are
// dropped (their stride is meaningless); neighbours merge when
// stride[i] == stride[i+1] * size[i+1]. Returns false if more than
// kMaxRowDims dims remain; `*rows` is the product of the sizes either way.
AITER_HD bool collapse_row_dims(int ndim, const int64_t* sizes, const int64_t* strides,
                                RowLayout* out, int64_t* rows) {
  int64_t s[kMaxRowDims], st[kMaxRowDims];
  int n = 0;
  int64_t count = 1;
  bool fits = true;
  for (int i = 0; i < ndim; ++i) {
    count *= sizes[i];
    if (sizes[i] == 1) continue;
    if (n > 0 && st[n - 1] == strides[i] * sizes[i]) {
      s[n - 1] *= sizes[i];
      st[n - 1] = strides[i];
    } else if (n < kMaxRowDims) {
      s[n] = sizes[i];
      st[n] = strides[i];
      ++n;
    } else {
      fits = false;  // keep counting rows; the layout is unusable
    }
  }
  *rows = count;
  if (count == 0) n = 0;  // nothing will be addressed
  out->ndim = fits ? n : 0;
  for (int d = 0; d < kMaxRowDims; ++d) {
    const int src = d - (kMaxRowDims - n);
    const bool used = fits && src >= 0;
    out->sizes[d] = used ? s[src] : 1;
    out->strides[d] = used ? st[src] : 0;
  }
  return fits;
}

// True when every row dim stride is a multiple of `vec` elements, so a
// vector that is aligned in row 0 stays aligned in every row.
AITER_HD bool row_strides_multiple_of(const RowLayout& l, int64_t vec) {
  for (int d = 0; d < kMaxRowDims; ++d)
    if (l.strides[d] % vec != 0) return false;  // unused slots hold 0
  return true;
}

}  // namespace aiter
