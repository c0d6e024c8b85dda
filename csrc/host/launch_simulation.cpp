#include "launch_simulation.h"

#include "message.h"

namespace aiter {
namespace {

// Elements from a view's data pointer to its last element, inclusive.
int64_t span_of(const at::Tensor& t) {
  if (!t.defined() || t.numel() == 0) return 0;
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  return last + 1;
}

AccessCounts zero_counts(const at::Tensor& t) {
  const auto opts = at::TensorOptions().dtype(at::kInt);
  return {at::zeros({span_of(t)}, opts), at::zeros({span_of(t)}, opts)};
}

struct Recorder {
  const LaunchConfig& c;
  int64_t elem_size;
  SimulationResult* result;

  void touch(const void* base, const RowLayout& rows, const at::Tensor& counts, int64_t row,
             int64_t chunk, int64_t elem = 0) {
    if (elem == 0) elem = elem_size;
    // The offset function the kernel uses (row_offset_as).
    const int64_t start = c.dense_rows ? row_offset_as<true>(rows, row) : row_offset_as<false>(rows, row);
    const int64_t first = start + chunk * c.vec;
    const auto address = reinterpret_cast<uintptr_t>(base) + first * elem;
    if (address % static_cast<uintptr_t>(c.vec * elem) != 0) ++result->misaligned_vectors;
    int32_t* n = counts.data_ptr<int32_t>();
    const int64_t span = counts.numel();
    for (int64_t i = 0; i < c.vec; ++i) {
      if (first + i < 0 || first + i >= span)
        ++result->outside_span;
      else
        ++n[first + i];
    }
  }

  // One scalar element (a scale).
  void touch_one(const at::Tensor& counts, int64_t offset) {
    if (offset < 0 || offset >= counts.numel())
      ++result->outside_span;
    else
      ++counts.data_ptr<int32_t>()[offset];
  }
};

std::string check_shape(const LaunchConfig& c, const TargetInfo& t, int64_t elem_size, NormVariant variant,
                        int64_t rows) {
  std::string v;
  if (c.lanes <= t.warp_size) {
    if (t.warp_size % c.lanes != 0) v += "a row's lanes straddle warps; ";
    if (c.threads % t.warp_size != 0) v += "block is not whole warps; ";
  } else if (c.threads != c.lanes || c.threads % t.warp_size != 0) {
    v += "block-wide rows need threads == lanes, a multiple of the warp; ";
  }
  if (c.threads > max_block_threads(static_cast<int>(c.chunks * c.vec * elem_size), variant, t.epilogue_full_blocks != 0))
    v += "block larger than the kernel's launch bounds; ";
  if (c.threads / t.warp_size > AITER_MAX_WARPS_PER_BLOCK_FOR(t.warp_size))
    v += "more warps than the reduction scratch holds; ";
  if (c.chunks > 0 && c.chunks * c.lanes < c.chunks_per_row) v += "cache too small for the row; ";
  // Dense-row kernels take blockIdx.x's row group and nothing else.
  // Split dense-row launches (dense_decode_split): fused-add rows of one vector per thread, a row per block.
  const bool dense_split_ok =
      c.split == 1 || (c.chunks == 1 && c.rows_per_block == 1 && variant_splits_dense_decode(variant) &&
                       c.lanes % c.split == 0 && c.lanes / c.split >= t.warp_size && c.threads <= kDenseSplitMaxThreads);
  if (c.dense_rows && (c.grid != ceil_div(rows, c.rows_per_block) << c.slice_shift || c.chunks == 0 || !dense_split_ok ||
                       c.stage_rows || rows > INT32_MAX))
    v += "a dense-row launch needs cached rows, a block per row group (or slice), a split only of fused-add rows "
         "one vector per thread, and fewer than 2^31 rows; ";
  if (c.slice_shift != 0 && (!c.dense_rows || !variant_spreads_decode(variant) || (c.chunks >> c.slice_shift) < 1))
    v += "only dense-row RMSNorm launches slice, at most one slice per chunk slot; ";
  return v;
}

// What the compact block `k` of launch (c, p), expanded as `q`, fails to
// reproduce of the fields the dense-row RMSNorm kernel reads ("" when
// nothing): the launch fields it carries, and the pointers and scalars (the
// element counts check the row layouts).
std::string compact_mismatch(const LaunchConfig& c, const NormParams& p, const CompactLaunch& k, const NormParams& q) {
  const LaunchConfig e = expanded_config(k, c.vec, c.chunks, c.threads, c.grid);
  const bool config = e.lanes == c.lanes && e.lanes_shift == c.lanes_shift && e.rows_per_block == c.rows_per_block &&
                      e.chunks_per_row == c.chunks_per_row && e.prefetch_weights == c.prefetch_weights &&
                      e.split == c.split && e.row_batch == c.row_batch && e.stage_rows == c.stage_rows &&
                      e.group_lanes == c.group_lanes && e.dense_rows == c.dense_rows && e.slice_shift == c.slice_shift;
  bool params = q.input == p.input && q.out == p.out && q.weight == p.weight && q.weight_stride == p.weight_stride &&
                q.rows == p.rows && q.hidden == p.hidden && q.inv_hidden == p.inv_hidden && q.epsilon == p.epsilon &&
                (q.gemma != 0) == (p.gemma != 0) && (q.model_sensitive != 0) == (p.model_sensitive != 0) &&
                q.variant == p.variant && q.split_row == p.split_row;
  if (variant_adds(p.variant)) params = params && q.residual_in == p.residual_in && q.residual_out == p.residual_out;
  std::string v;
  if (!config) v += "the compact parameter block does not reproduce the launch config; ";
  if (!params) v += "the compact parameter block does not reproduce the pointers or scalars; ";
  return v;
}

}  // namespace

SimulationResult simulate_launch(const NormCall& call, const TargetInfo& target,
                                 int64_t blocks_per_sm, bool walk) {
  const PlannedCall pc = plan_call(call);
  SimulationResult r;
  const bool add = variant_adds(call.variant);
  const bool quant = variant_quantizes(call.variant);
  const bool two = variant_two_jobs(call.variant);
  if (walk) {  // the counts the walk fills (none when planning only)
    r.input = zero_counts(call.input);
    r.out = zero_counts(call.out);
    if (add) {
      r.residual_in = zero_counts(call.residual_in);
      r.residual_out = zero_counts(call.residual_out);
    }
    if (quant) {
      r.yscale = zero_counts(call.yscale);
      if (call.unquant.defined()) r.unquant = zero_counts(call.unquant);
    }
    if (two) {
      r.input_b = zero_counts(call.input_b);
      r.out_b = zero_counts(call.out_b);
    }
  }
  if (pc.empty) return r;
  TORCH_CHECK_VALUE(!pc.gathered, aiter::message("simulate_launch: views must be zero-copy"));

  LaunchConfig c = choose_launch(target, pc.params);
  if (blocks_per_sm > 0) set_grid(&c, pc.params.rows, target.sm_count, blocks_per_sm);
  settle_staging(&c, pc.params.rows, pc.params.variant);
  // Launches the GPU launcher sends as a CompactLaunch (launch_cached) are
  // walked through what the kernel expands from it, so the simulation checks
  // that the compact block loses nothing the kernel reads.
  r.compact_params = variant_takes_compact(with_dense_rows(pc.params.variant)) && compact_launch_fits(pc.params, c);
  if (!r.compact_params) unslice(&c);  // as launch_cached sends it
  r.config = c;
  const CompactLaunch compact = r.compact_params ? compact_launch(pc.params, c) : CompactLaunch{};
  const NormParams p = r.compact_params ? expanded_params(compact, pc.params.dtype, pc.params.variant, c.vec) : pc.params;
  const int64_t elem = dtype_size(p.dtype);
  r.shape_violations = check_shape(c, target, elem, p.variant, p.rows);
  if (!r.compact_params && c.dense_rows && c.split > 1)
    r.shape_violations += "a split dense-row launch needs the compact block (launch_cached refuses it); ";
  if (r.compact_params) r.shape_violations += compact_mismatch(c, pc.params, compact, p);
  if (const char* why = unsupported_launch(c, target)) r.shape_violations += why;
  if (!walk) return r;
  Recorder rec{c, elem, &r};
  // Passes over a streamed row after the prologue (the kernel's re-reads).
  const int rereads = c.chunks == 0 ? streamed_rereads(p.variant, p.group_size) : 0;

  // One chunk of a row's input (either job of a two-job launch).
  auto read_input = [&](int64_t row, int64_t chunk) {
    if (row >= p.split_row)
      rec.touch(p.input_b, p.input_b_rows, r.input_b.reads, row - p.split_row, chunk);
    else
      rec.touch(p.input, p.input_rows, r.input.reads, row, chunk);
  };

  // The kernel's loop nest (norm_rows_kernel), access by access.
  for (int64_t block = 0; block < c.grid; ++block) {
    // A sliced launch's block: its row group, and the chunk slots it stores.
    const int64_t first_group = first_row_group(c, static_cast<uint32_t>(block));
    const int mask = slice_mask(c);
    const int slice = block_slice(static_cast<int>(block), mask);
    for (int t = 0; t < c.threads; ++t) {
      // Row groups block, block + grid, ... taken row_batch per pass
      // (short_rows_batched; one per pass otherwise).
      for (int64_t pass = first_group; row_group_in_range(c, pass, p.rows); pass += c.grid * c.row_batch)
      for (int b = 0; b < c.row_batch; ++b) {
        // A staging launch copies the next group's input while on this one
        // (stage_row_group), and reads a group's input from global memory
        // itself only for the block's first group (a kernel keeping its row
        // in shared memory copies that one too: the same elements, once).
        const bool staged = c.stage_rows && pass != first_group;
        if (c.stage_rows && row_group_in_range(c, pass + c.grid, p.rows)) {
          const int64_t next = row_of(c, pass + c.grid, t);
          if (next < p.rows) {
            for (int64_t k = 0; k < c.chunks; ++k)
              if (chunk_in_row(c, chunk_of(c, t, k))) read_input(next, chunk_of(c, t, k));
          }
        }
        const int64_t row = row_of(c, pass + b * c.grid, t);
        if (row >= p.rows) continue;  // inactive: joins reductions only
        const bool job_b = row >= p.split_row;
        const int64_t jrow = job_b ? row - p.split_row : row;
        const void* in = job_b ? p.input_b : p.input;
        const RowLayout& in_rows = job_b ? p.input_b_rows : p.input_rows;
        const at::Tensor& in_reads = job_b ? r.input_b.reads : r.input.reads;
        if (quant && p.group_size == 0 && chunk_of(c, t, 0) == 0)
          rec.touch_one(r.yscale.writes, row_offset(p.yscale_rows, row));
        for (int64_t k = 0; k < chunk_slots(c); ++k) {
          const int64_t chunk = chunk_of(c, t, k);
          if (!chunk_in_row(c, chunk)) continue;
          const bool stores = slice_stores_slot(slice, mask, static_cast<int>(k));
          // Prologue: load_row_inputs (or the staged copy).
          if (!staged) rec.touch(in, in_rows, in_reads, jrow, chunk);
          if (add) {
            rec.touch(p.residual_in, p.residual_in_rows, r.residual_in.reads, row, chunk);
            if (stores) rec.touch(p.residual_out, p.residual_out_rows, r.residual_out.writes, row, chunk);
          }
          // Streamed rows re-read in later passes (reload_row_chunk).
          for (int i = 0; i < rereads; ++i) {
            if (add)
              rec.touch(p.residual_out, p.residual_out_rows, r.residual_out.reads, row, chunk);
            else
              rec.touch(in, in_rows, in_reads, jrow, chunk);
          }
          // Epilogue: store_normed / store_quantized.
          if (!stores) continue;
          if (job_b) {
            rec.touch(p.out_b, p.out_b_rows, r.out_b.writes, jrow, chunk);
          } else if (quant) {
            rec.touch(p.out, p.out_rows, r.out.writes, row, chunk, 1);
            if (p.unquant != nullptr) rec.touch(p.unquant, p.unquant_rows, r.unquant.writes, row, chunk);
            if (p.group_size > 0 && chunk % c.group_lanes == 0)
              rec.touch_one(r.yscale.writes, row_offset(p.yscale_rows, row) +
                                                 (chunk / c.group_lanes) * p.yscale_group_stride);
          } else {
            rec.touch(p.out, p.out_rows, r.out.writes, row, chunk);
          }
        }
      }
    }
  }
  return r;
}

}  // namespace aiter
