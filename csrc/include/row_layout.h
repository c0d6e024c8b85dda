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
  // Division by the innermost size as a multiply (divide_by), set by
  // collapse_row_dims. A runtime 32-bit divide is ~20 instructions per row:
  // on the H100 the row offsets of the strided Q-norm (2 row dims) cost more
  // than its arithmetic. Only the 2-dim case uses it: magic numbers for every
  // dim pushed gfx9's batched short-row kernels past their SGPRs (scratch).
  uint32_t inner_magic;
  uint32_t inner_shift;
};

// n / d for every n < 2^31, as a multiply-high, an add and a shift (the
// round-up method of Granlund and Montgomery, with l = ceil(log2 d) and
// magic = floor(2^32 (2^l - d) / d) + 1; hi + n cannot overflow because
// hi < n < 2^31). Divisors of 2^31 or more give 0 (magic 0, shift 31).
AITER_HD uint32_t divide_by(uint32_t n, uint32_t magic, uint32_t shift) {
  const uint32_t hi = static_cast<uint32_t>((static_cast<uint64_t>(n) * magic) >> 32);
  return (hi + n) >> shift;
}

AITER_HD void set_divisor(int64_t d, uint32_t* magic, uint32_t* shift) {
  if (d >= (int64_t{1} << 31) || d < 1) {
    *magic = 0;
    *shift = 31;
    return;
  }
  uint32_t l = 0;
  while ((int64_t{1} << l) < d) ++l;
  const uint64_t twice = (uint64_t{1} << 32) * ((uint64_t{1} << l) - static_cast<uint64_t>(d));
  *magic = static_cast<uint32_t>(twice / static_cast<uint64_t>(d) + 1);
  *shift = l;
}

// Layouts with at most two row dims (the Q/K slice of a packed QKV buffer:
// tokens, heads) and rows below 2^31: a multiply-high division by the inner
// size and two multiplies. Exact for fewer dims too (an unused outer slot
// has stride 0, and row < the inner size gives q == 0), so dense-row kernels
// call only this: no branch on the layout.
AITER_HD int64_t two_dim_row_offset(const RowLayout& l, uint32_t row) {
  constexpr int kLast = kMaxRowDims - 1;
  const uint32_t q = divide_by(row, l.inner_magic, l.inner_shift);
  return static_cast<int64_t>(row - q * static_cast<uint32_t>(l.sizes[kLast])) * l.strides[kLast] +
         static_cast<int64_t>(q) * l.strides[kLast - 1];
}

// Element offset of row `row` (0 <= row < the product of the sizes). One row
// dim (dense, row-strided 2D, any view whose leading dims collapse) costs a
// multiply; two a multiply-high division while the row index fits in 31
// bits; each further dim a 32-bit divide (64-bit beyond 31 bits).
AITER_HD int64_t row_offset(const RowLayout& l, int64_t row) {
  constexpr int kLast = kMaxRowDims - 1;
  if (l.ndim <= 1) return row * l.strides[kLast];  // stride 0 when ndim == 0
  if (l.ndim == 2 && row <= INT32_MAX) return two_dim_row_offset(l, static_cast<uint32_t>(row));
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

// The offset function a kernel instantiation uses: dense-row kernels
// (kTwoDim) run only on layouts of at most two row dims and fewer than 2^31
// rows (launch_config.h, dense_row_layout and takes_dense_rows), so they skip
// the general function's branches.
template <bool kTwoDim>
AITER_HD int64_t row_offset_as(const RowLayout& l, int64_t row) {
  if constexpr (kTwoDim) return two_dim_row_offset(l, static_cast<uint32_t>(row));
  else return row_offset(l, row);
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
  set_divisor(out->sizes[kMaxRowDims - 1], &out->inner_magic, &out->inner_shift);
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
