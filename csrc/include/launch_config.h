// How a norm launch is shaped for a target, and which elements each thread
// touches. The GPU launcher, the kernels and the host-side launch simulation
// all call these functions, so the simulation checks the real mapping.
#pragma once
#include "norm_params.h"

namespace aiter {

// Whether this build's platform lets LayerNorm and quantising kernels take
// 1024-thread blocks (max_block_threads says why gfx9 does not).
#if defined(USE_ROCM) || defined(__HIP_PLATFORM_AMD__)
constexpr bool kEpilogueFullBlocks = false;
#else
constexpr bool kEpilogueFullBlocks = true;
#endif

struct TargetInfo {
  int warp_size;           // 32 on NVIDIA, 64 on gfx9 (wave64)
  int sm_count;            // SMs / CUs
  int max_threads_per_sm;  // resident threads per SM / CU
  // Launch policy, from sweeps on the H100 (bf16, T = 8192 and 32768;
  // tools/sweep_launch.py): vectors each thread aims to hold for short rows
  // (1; 2 was equal, 1 is better at decode) and for long rows (4; 2 and 8
  // were 4-15 points of copy bandwidth slower). For the general kernel a
  // non-persistent grid (grid_waves 0) was 3-8 points slower on the QK and
  // row-strided cases; the dense-row kernel (dense_rows), with about two
  // thirds of its registers, wins with a block per row group on layouts of
  // up to two row dims (2D, and the Q/K slices of a packed QKV buffer:
  // 97-99% of copy against 91-93% at T = 8192 and 32768).
  // A row's result (its reduction order) depends on hidden and the layout,
  // never on the number of rows, so it is the same in every batch
  // (tests/test_batch_invariance.py). Where decode_split applies, few-row
  // launches of long rows spread each row over more threads
  // (LaunchConfig::split) but keep that order.
  int short_row_chunks = 1;
  int long_row_chunks = 4;
  // Short rows of the quantising variants hold two vectors per thread: at
  // one, a packed block of 64 Q/K rows kept too little in flight (fp8 on the
  // strided Q slice, T = 8192: 84% of copy at two, 66% at one).
  int short_quant_row_chunks = 2;
  int short_row_threads = 256;  // block size for short rows
  int batch_rows = 1;           // 0: never batch short row groups (row_batch 1)
  // Blocks launched per resident block slot: 1 is a persistent grid (blocks
  // loop over row groups); 0 launches one block per row group.
  int grid_waves = 1;
  // Multi-wave launches stage each block's next row group in shared memory
  // (LaunchConfig::stage_rows); 0: never.
  int stage_rows = 1;
  // Whether the GPU has asynchronous global -> shared copies (sm_80 and
  // later; set by the launcher). Without them nothing is staged.
  int async_copy = 0;
  // Cached rows of layouts with at most two row dims take the dense-row
  // kernels (LaunchConfig::dense_rows); 0: never.
  int dense_rows = 1;
  // Dense-row decode launches (takes_dense_rows) fetch each row's weights
  // into L1 with the row (LaunchConfig::prefetch_weights); 0: never.
  int dense_prefetch = 1;
  // Block size of dense-row launches whose rows have fewer lanes than
  // kDenseRowMinThreads (rows packed a sub-group each; dense_row_threads).
  int dense_packed_threads = 256;
  // Which decode launches (no more rows than SMs) split (splits_decode):
  // rows of several vectors per thread spread each row over more threads
  // (LaunchConfig::split), and rows of one vector per thread keep the
  // general kernel; other launches take the dense-row kernel like any other
  // (same lanes and chunks). 0: none; 1: every variant; 2: the quantising
  // variants. H100, bf16, hidden 4096 (T = 1, 8, 32; C++ harness, same
  // build): plain RMSNorm 4.7-5.4 us dense against 5.4-6.0 split (bench_rmsnorm:
  // hidden 2048 / 4096 / 8192 5.50 / 5.50 / 5.70 against 5.76 / 6.02 / 6.43
  // us); add + smooth int8 quant 8.1-8.5 against 7.0-7.3 us, per-group fp8
  // 6.5-7.1 against 5.8-6.3 us, dynamic int8 6.2-6.9 against 6.1-6.7 us.
  int decode_split = 2;
  // Most blocks a dense-row RMSNorm decode launch (plain or fused add, no
  // more row groups than SMs) gives each row group (LaunchConfig::slice_shift,
  // at most one per chunk slot); 1: one block per row group. C++ harness,
  // H100 bf16, each call after a 256 MB fill, same run, T = 1-32, 4 against
  // 1: plain RMSNorm hidden 16384 6-8% faster, 8192 3-5%, 2048 / 4096 1-3%;
  // the fused add hidden 16384 7-9%, 2048-8192 1-4%; 2 gave part of that.
  // Bits equal to one block's (harness check and test_batch_invariance).
  int dense_decode_slices = 4;
  // Dense-row fused add + RMSNorm decode launches (no more rows than SMs)
  // whose rows fit kDenseSplitMaxThreads vectors give each vector its own
  // thread (LaunchConfig::split) instead of slicing; the sums keep the
  // unsplit order (same bits). C++ harness, H100 bf16, each call after a
  // 256 MB fill, same run, split against sliced: fused add hidden 1024
  // 3-6% faster at T = 1-128, 2048 1-4%; hidden 4096 (512-thread blocks)
  // equal at T <= 32 and 5% slower at 128; plain RMSNorm equal at 1024 and
  // 2048 and up to 4.6% slower at 4096, so it keeps its slices.
  // 0: never.
  int dense_decode_split = 1;
  // Whether LayerNorm and quantising kernels take 1024-thread blocks
  // (max_block_threads): this build's platform by default; gfx9 targets
  // planned off the hardware (simulation, CPU executor) set 0.
  int epilogue_full_blocks = kEpilogueFullBlocks;
};

// Register-cached vectors per thread the kernels are instantiated for, and the
// bytes of row a thread may hold in registers; a row needing more is streamed
// in two passes (chunks == 0).
// 8: sixteen scalar chunks spilled VGPRs on gfx90a under a 1024-thread bound.
constexpr int kMaxCachedChunks = 8;

// Bytes of row one thread holds in registers: the fused add keeps two inputs
// in flight per chunk, so it gets half.
// The quantising epilogue recomputes outputs in two passes (max, store) and
// gets half as well: at 128 bytes its 16-bit instantiations spilled VGPRs on
// gfx942.
AITER_HD constexpr int max_cached_bytes(NormVariant v) {
  return variant_adds(v) || variant_quantizes(v) ? 64 : 128;
}
constexpr int kMaxBlockThreads = 1024;

// Warps a block of kMaxBlockThreads holds at a warp width: the size of the
// kernels' cross-warp reduction scratch.
#define AITER_MAX_WARPS_PER_BLOCK_FOR(warp) (aiter::kMaxBlockThreads / (warp))
constexpr int kVectorBytes = 16;

struct LaunchConfig {
  int vec;                 // elements per access: 16 bytes' worth, or 1
  int lanes;               // threads cooperating on one row (power of two)
  int lanes_shift;         // log2(lanes): thread -> (row, lane) without a divide
  int chunks;              // vectors per thread held in registers; 0 = streamed
  int threads;             // block size
  int rows_per_block;      // threads / lanes
  int64_t grid;            // blocks; each loops over row groups grid apart
  int64_t chunks_per_row;  // hidden / vec
  int grid_waves;          // TargetInfo::grid_waves
  int group_lanes;         // per-group quant: lanes sharing one scale (group_size / vec); else 0
  // Decode launches of long rows under TargetInfo::decode_split (the
  // general kernel) or dense_decode_split (the dense-row one): > 1 spreads
  // each row over `split` times the lanes (one vector each) while its sums
  // add up in the order of the launch without the split: lanes / split
  // lanes, each summing its `split` chunks in turn. Same result bits, a
  // shorter per-thread chain. 1: off.
  int split;
  // Short rows of plain RMSNorm in multi-wave launches: row
  // groups each block takes per pass (loads of all of them before any
  // reduction; every row reduced as with 1). 1: one group per pass.
  int row_batch;
  // Decode launches (no more rows than SMs) of long rows that keep their
  // weights out of registers: fetch them into L1 with the row (kernel).
  int prefetch_weights;
  // 1: each block copies its next row group's input into shared memory
  // (stage_bytes; variant_stages_rows) while it reduces and stores the
  // current one. A block holds one group in registers, so otherwise none of
  // its loads is in flight between groups. 0: every group is loaded when
  // its turn comes. Set by the launcher where a block takes several groups,
  // and always for kernels that keep their row there (keeps_row_in_shared).
  int stage_rows;
  // 1: the dense-row kernel (NormVariant bit 8; takes_dense_rows): one
  // block per row group (grid == row groups; a row per block, or a row per
  // sub-group for rows of fewer than kDenseRowMinThreads lanes), no
  // persistent loop or staging, split only under dense_decode_split
  // (variant_has_dense_kernel). On the
  // H100 (bf16, T = 8192 and 32768) 2D RMSNorm ran at 95-105% of copy
  // bandwidth and the strided Q/K norms at 94-98%, the general kernel at
  // 88-93%; at T = 8192, h4096, dynamic int8 / fp8 quant at 92 / 88%
  // (general: 72 / 68%), add + smooth int8 90% (75%), per-group fp8 77%
  // (64%), LayerNorm 89% (general, last measured: 84%).
  int dense_rows;
  // Dense-row RMSNorm decode launches: 2^slice_shift blocks per row group.
  // Each block loads and reduces the whole row exactly as a lone block would
  // (same bits), then stores only its share of the chunk slots (slot k:
  // block k mod 2^slice_shift) and loads only their weights, so a row's
  // stores and weight reads are spread over several SMs. 0: one block.
  int slice_shift;
};

// Row groups per pass (LaunchConfig::row_batch) where a launch has enough.
constexpr int kRowBatch = 2;

// Variants whose dense-row decode launches spread over more SMs (rows in
// slices, slice_shift; packed rows in small blocks, dense_row_threads): plain
// and fused add RMSNorm, the compact block's, where that was measured.
AITER_HD constexpr bool variant_spreads_decode(NormVariant v) {
  return without_dense_rows(v) == NormVariant::kRms || without_dense_rows(v) == NormVariant::kAddRms;
}

// Variants whose dense-row decode launches may split rows instead
// (TargetInfo::dense_decode_split): the fused add + RMSNorm.
AITER_HD constexpr bool variant_splits_dense_decode(NormVariant v) {
  return without_dense_rows(v) == NormVariant::kAddRms;
}

inline bool aligned_to(const void* p, int64_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) == 0;
}

inline bool tensor_allows_vec(const void* p, const RowLayout& rows, int64_t vec,
                              int64_t elem_size) {
  return aligned_to(p, vec * elem_size) && row_strides_multiple_of(rows, vec);
}

// A per-column parameter (weight, bias, x_bias) read as vectors: absent, or
// contiguous and aligned.
inline bool param_allows_vec(const void* p, int64_t stride, int64_t vec, int64_t elem_size) {
  return p == nullptr || (stride == 1 && aligned_to(p, vec * elem_size));
}

// 16-byte accesses (of the input dtype) need hidden, every base pointer and
// every row stride of every tensor argument to be multiples of the vector; a
// width chosen from hidden alone would misalign row-strided views. Quantised
// outputs take `vec` bytes per access. Per-group scales need whole vectors
// per group.
inline int pick_vector_width(const NormParams& p) {
  const int64_t elem = dtype_size(p.dtype);
  const int64_t vec = kVectorBytes / elem;
  bool ok = p.hidden % vec == 0 && param_allows_vec(p.weight, p.weight_stride, vec, elem) &&
            param_allows_vec(p.bias, p.bias_stride, vec, elem) &&
            param_allows_vec(p.x_bias, p.x_bias_stride, vec, elem) &&
            tensor_allows_vec(p.input, p.input_rows, vec, elem) &&
            tensor_allows_vec(p.out, p.out_rows, vec, out_elem_size(p));
  if (variant_adds(p.variant))
    ok = ok && tensor_allows_vec(p.residual_in, p.residual_in_rows, vec, elem) &&
         tensor_allows_vec(p.residual_out, p.residual_out_rows, vec, elem);
  if (variant_quantizes(p.variant)) {
    if (p.unquant != nullptr) ok = ok && tensor_allows_vec(p.unquant, p.unquant_rows, vec, elem);
    if (p.group_size > 0) ok = ok && p.group_size % vec == 0;
    // The smooth-quant xscale (fp32) is read 16 bytes at a time.
    if (p.xscale != nullptr) ok = ok && p.xscale_stride == 1 && aligned_to(p.xscale, kVectorBytes);
  }
  if (p.split_row < p.rows)
    ok = ok && param_allows_vec(p.weight_b, p.weight_b_stride, vec, elem) &&
         tensor_allows_vec(p.input_b, p.input_b_rows, vec, elem) &&
         tensor_allows_vec(p.out_b, p.out_b_rows, vec, elem);
  return ok ? static_cast<int>(vec) : 1;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline int next_pow2(int64_t v) {
  int p = 1;
  while (p < v) p <<= 1;
  return p;
}

// Blocks of kernels caching more than 64 bytes per thread are capped at 512
// threads, which lets those kernels use up to 128 registers without spilling.
// Quantised LayerNorm keeps the most state live (mean, bias, scale): capped
// at 512 too (52 bytes of spill at 64 registers on sm_90). The others run
// under the 1024-thread bound, 64 registers on sm_90: given 128, the
// compiler took 84-112 and occupancy fell (H100 bf16 h4096, T = 8192:
// dynamic int8 70.6 -> 60.3 us and per-group fp8 80.3 -> 67.9 us at 64).
// On gfx9 (wave64) a 1024-thread block leaves 128 VGPRs, where bf16
// LayerNorm and fused-add group-quant kernels spilled: both keep 512 there.
// Dense-row fused-add quant kernels are capped at 512 as well: at 64
// registers their four-vector bf16 kernel spilled 76 bytes; with 86-99 it
// ran at 90% of copy (H100, add + smooth int8, h4096, T = 8192).
// The kernels' launch bounds use the platform being compiled for
// (kEpilogueFullBlocks); the planner takes the target's
// (TargetInfo::epilogue_full_blocks), so the simulation and the CPU executor
// plan gfx9 launches as a ROCm build does.
AITER_HD constexpr int max_block_threads(int cached_bytes, NormVariant v = NormVariant::kRms,
                                         bool epilogue_full_blocks = kEpilogueFullBlocks) {
  const bool epilogue = variant_centers(v) || variant_quantizes(v);
  const bool capped = cached_bytes > 64 || (variant_centers(v) && variant_quantizes(v)) ||
                      (variant_dense_rows(v) && variant_adds(v) && variant_quantizes(v)) ||
                      (epilogue && !epilogue_full_blocks);
  return capped ? 512 : 1024;
}

inline int round_up_cached_chunks(int64_t k, int64_t vec_bytes, NormVariant v) {
  const int chunks = next_pow2(k);
  if (chunks > kMaxCachedChunks || chunks * vec_bytes > max_cached_bytes(v)) return 0;
  return chunks;
}

// Variants whose kernels stage rows (LaunchConfig::stage_rows): plain
// RMSNorm and LayerNorm. On the H100 (bf16, T = 8192) staging took the
// fused add's occupancy (its buffer would hold two tensors; 95 -> 92% of
// copy) and, on top of their register cache, pushed the quantising kernels
// further past 64 registers (dynamic int8 63 -> 60%).
AITER_HD constexpr bool variant_stages_rows(NormVariant v) {
  return !variant_adds(v) && !variant_quantizes(v);
}

// RMSNorm-quant kernels without the residual add that hold two or more
// vectors per thread read their row from the staging buffer in both passes
// instead of caching it in registers, and stage every row group, single-wave
// launches included (H100, bf16 h4096, T = 8192: dynamic int8 61 -> 68% of
// copy, per-group fp8 57 -> 63%). Short rows (one vector per thread, not
// short of registers) lost 4-5% that way and keep their registers. The
// dense-row kernels (faster still) keep theirs in registers too.
AITER_HD constexpr bool keeps_row_in_shared(NormVariant v, int chunks) {
  return variant_quantizes(v) && !variant_centers(v) && !variant_adds(v) && !variant_dense_rows(v) && chunks >= 2;
}
constexpr int64_t kStaticSharedLimit = 48 * 1024;  // without opting in
constexpr int64_t kMaxStageBytes = 128 * 1024;

// Shared memory a block needs to stage its next row group (two buffers,
// the group being read and the one in flight, of the threads' cached input
// chunks), or 0 where the launch does not stage: variants that do not,
// streamed rows, vectors other than 16 bytes, split decode launches, and
// buffers above kMaxStageBytes. (Short rows are batched only where nothing
// is staged: choose_launch.)
inline int64_t stage_bytes(const LaunchConfig& c, NormVariant v, int64_t vec_bytes) {
  if (!(variant_stages_rows(v) || keeps_row_in_shared(v, c.chunks)) || c.chunks == 0 ||
      vec_bytes != kVectorBytes || c.split != 1)
    return 0;
  const int64_t bytes = int64_t{2} * c.chunks * c.threads * kVectorBytes;
  return bytes <= kMaxStageBytes ? bytes : 0;
}

// Persistent grid: as many blocks as can be resident (blocks loop over row
// groups) times grid_waves, or fewer when there are fewer row groups; with
// grid_waves 0, one block per row group. Launchers that know the kernel's
// real occupancy call this again with it.
inline void set_grid(LaunchConfig* c, int64_t rows, int sm_count, int64_t blocks_per_sm) {
  if (blocks_per_sm < 1) blocks_per_sm = 1;
  const int64_t groups = ceil_div(rows, c->rows_per_block);
  const int64_t resident = static_cast<int64_t>(sm_count) * blocks_per_sm * c->grid_waves;
  c->grid = groups < resident || c->grid_waves == 0 ? groups : resident;
  if (c->grid < 1) c->grid = 1;
  c->grid <<= c->slice_shift;  // sliced dense-row decode launches (else 0)
}

// A sliced launch (slice_shift) as one block per row group: launches that do
// not go out as a CompactLaunch (the only kernel entry that slices rows).
inline void unslice(LaunchConfig* c) {
  c->grid >>= c->slice_shift;
  c->slice_shift = 0;
}

// Staging needs a block to take more than one row group (but for rows kept
// in shared memory): switched off once the grid is known (launchers and the
// simulation call this after set_grid).
inline void settle_staging(LaunchConfig* c, int64_t rows, NormVariant v) {
  if (!keeps_row_in_shared(v, c->chunks) && ceil_div(rows, c->rows_per_block) <= c->grid) c->stage_rows = 0;
}

// Whether a decode launch (no more rows than SMs) of this call splits
// (TargetInfo::decode_split).
inline bool splits_decode(const TargetInfo& target, const NormParams& p) {
  const bool policy = target.decode_split == 1 || (target.decode_split == 2 && variant_quantizes(p.variant));
  return policy && p.rows <= target.sm_count;
}

// Whether a call's rows can take the dense-row kernel: a variant that has
// one, 16-byte vectors, and at most two row dims in every row tensor it
// touches (two_dim_row_offset: 2D views and the Q/K slices of a packed QKV
// buffer). Depends on the layout only, never on the number of rows, so the
// per-thread chunking it picks (choose_launch) is the same at every T.
inline bool dense_row_layout(const NormParams& p, int vec) {
  if (!variant_has_dense_kernel(p.variant) || vec * dtype_size(p.dtype) != kVectorBytes) return false;
  bool ok = p.input_rows.ndim <= 2 && p.out_rows.ndim <= 2;
  if (variant_adds(p.variant)) ok = ok && p.residual_in_rows.ndim <= 2 && p.residual_out_rows.ndim <= 2;
  if (variant_two_jobs(p.variant)) ok = ok && p.input_b_rows.ndim <= 2 && p.out_b_rows.ndim <= 2;
  return ok;
}

// Block sizes the dense-row kernel was measured at and won (H100: 64..512
// threads, hidden 2048..16384 in bf16). Rows of fewer lanes share a block of
// TargetInfo::dense_packed_threads (a row per lanes-wide sub-group of a
// warp), so a block of a many-row launch is never a lone warp, which would
// leave the launch bound by block scheduling. 1024-thread blocks ran 15-25%
// slower in the prototype and keep the persistent kernel.
constexpr int kDenseRowMinThreads = 64;
constexpr int kDenseRowMaxThreads = 512;

// The dense-row block for the rows of `p`, of `lanes` lanes. Packed rows whose
// launch would fit one block per SM (decode) take kDenseRowMinThreads-thread
// blocks instead, spreading the rows over more SMs: C++ harness, H100 bf16,
// Q slice (32 rows of 128 per token), T = 1-32, same run: fused add 3-5%
// faster, plain RMSNorm within noise, T >= 128 unchanged. A row's reduction
// stays within its sub-group, so its bits do not depend on the block size.
inline int dense_row_threads(const TargetInfo& target, const NormParams& p, int lanes) {
  if (lanes >= kDenseRowMinThreads) return lanes;
  const int packed = target.dense_packed_threads;
  if (variant_spreads_decode(p.variant) && packed >= lanes && ceil_div(p.rows, packed / lanes) <= target.sm_count &&
      kDenseRowMinThreads % target.warp_size == 0)
    return kDenseRowMinThreads;
  return packed;
}

// Launches that take the dense-row kernel (LaunchConfig::dense_rows): rows
// cached in registers, not split, a row in at most kDenseRowMaxThreads lanes
// (a block's row group: blocks of more lanes are one row, rows of fewer
// lanes than a warp share the block), and a grid of fewer than 2^31 threads
// (HIP's limit on a launch; it also keeps row indices in 31 bits, as
// two_dim_row_offset needs). Decode launches that split (splits_decode)
// keep the general kernel's split and hoisted weights, except rows of
// several vectors per thread that cannot split (there the general kernel
// waits for each chunk's load before issuing the next, and the dense one
// issues them all at once); other decode launches take the dense kernel like
// any other launch.
inline bool takes_dense_rows(const TargetInfo& target, const NormParams& p, const LaunchConfig& c) {
  if (!target.dense_rows || !dense_row_layout(p, c.vec) || c.chunks == 0 || c.split != 1 ||
      (splits_decode(target, p) && c.chunks == 1) || c.lanes > kDenseRowMaxThreads)
    return false;
  const int threads = dense_row_threads(target, p, c.lanes);  // packed rows have at most a warp's lanes
  if (threads > kDenseRowMaxThreads || threads % target.warp_size != 0 || threads % c.lanes != 0) return false;
  return ceil_div(p.rows, threads / c.lanes) < (int64_t{1} << 31) / threads;
}

// log2 of a power-of-two lane count (LaunchConfig::lanes_shift).
inline int log2_lanes(int lanes) {
  int shift = 0;
  while ((1 << shift) < lanes) ++shift;
  return shift;
}

// A split launch (LaunchConfig::split): each of a row's cached vectors gets
// a lane of its own; the sums keep the order of the launch without it.
inline void split_row_vectors(LaunchConfig* c) {
  c->split = c->chunks;
  c->lanes *= c->chunks;
  c->lanes_shift = log2_lanes(c->lanes);
  c->chunks = 1;
}

// Most threads a split dense-row decode block takes (dense_decode_split).
constexpr int kDenseSplitMaxThreads = 256;

// Whether a dense-row decode launch of the fused add + RMSNorm splits its
// rows (TargetInfo::dense_decode_split): rows of several vectors per
// thread, one row per block of at most kDenseSplitMaxThreads threads.
inline bool splits_dense_decode(const TargetInfo& target, const NormParams& p, const LaunchConfig& c) {
  return target.dense_decode_split && variant_splits_dense_decode(p.variant) &&
         p.rows <= target.sm_count && c.chunks > 1 && int64_t{c.lanes} * c.chunks <= kDenseSplitMaxThreads;
}

// Whether a call stores an output over one of its inputs (the same view:
// in-place use; the launcher rejects partial overlaps). Such calls never
// slice rows (slice_shift): each block of a sliced row group loads the whole
// row, so another block's stores could reach its loads first. The CPU SIMT
// executor's global race check found this (tests/test_simt_layouts.py,
// test_in_place: fused_add_rms_norm_cu and rms_norm_cu in place, decode).
inline bool writes_in_place(const NormParams& p) {
  const void* in[] = {p.input, variant_adds(p.variant) ? p.residual_in : nullptr};
  const void* out[] = {p.out, variant_adds(p.variant) ? p.residual_out : nullptr};
  for (const void* o : out)
    for (const void* i : in)
      if (o != nullptr && o == i) return true;
  return false;
}

inline LaunchConfig choose_launch(const TargetInfo& target, const NormParams& p) {
  LaunchConfig c;
  c.grid_waves = target.grid_waves;
  c.split = 1;
  c.row_batch = 1;
  c.prefetch_weights = p.rows <= target.sm_count ? 1 : 0;
  c.stage_rows = 0;
  c.dense_rows = 0;
  c.slice_shift = 0;
  c.vec = pick_vector_width(p);
  c.chunks_per_row = p.hidden / c.vec;
  const int64_t vec_bytes = c.vec * dtype_size(p.dtype);
  const int warp = target.warp_size;
  const int short_chunks = variant_quantizes(p.variant) ? target.short_quant_row_chunks : target.short_row_chunks;
  if (c.chunks_per_row <= static_cast<int64_t>(short_chunks) * warp) {
    // Short rows (head_dim-sized): a sub-group of a warp per row, several
    // rows per warp, reduced with shuffles of that sub-group's width.
    c.lanes = next_pow2(ceil_div(c.chunks_per_row, short_chunks));
    // Per-group scales reduce over group_size / vec lanes of one row.
    const int64_t group_lanes = variant_quantizes(p.variant) && p.group_size > 0 ? p.group_size / c.vec : 0;
    while (c.lanes < group_lanes && c.lanes < warp) c.lanes <<= 1;
    if (c.lanes > warp) c.lanes = warp;
    c.chunks = round_up_cached_chunks(ceil_div(c.chunks_per_row, c.lanes), vec_bytes, p.variant);
    c.threads = target.short_row_threads;
  } else {
    // Long rows: one block per row, about four vectors per thread in
    // registers so the row is read from memory once.
    // The same for every layout and batch (a row's reduction order follows
    // from it). Wide rows once took two per thread (1024 threads: 3.5%
    // faster in the staged general kernel, bf16 h16384), but the dense-row
    // kernel ran 15-25% slower that way than at four, and a choice by layout
    // would differ between one row and many of the same view (size-1 dims
    // collapse).
    const int per_thread = target.long_row_chunks;
    int64_t lanes = next_pow2(ceil_div(c.chunks_per_row, per_thread));
    if (lanes < warp) lanes = warp;
    const bool full = target.epilogue_full_blocks != 0;
    if (lanes > max_block_threads(0, p.variant, full)) lanes = max_block_threads(0, p.variant, full);
    c.lanes = static_cast<int>(lanes);
    c.chunks = round_up_cached_chunks(ceil_div(c.chunks_per_row, c.lanes), vec_bytes, p.variant);
    if (c.lanes > max_block_threads(static_cast<int>(c.chunks * vec_bytes), p.variant, full)) c.chunks = 0;
    // Decode launches that split (splits_decode): every row has an SM to
    // itself, so give each vector its own thread where the block allows
    // (split, above).
    if (splits_decode(target, p) && c.chunks > 1 &&
        c.lanes * c.chunks <= max_block_threads(static_cast<int>(vec_bytes), p.variant, full)) {
      split_row_vectors(&c);
    }
    c.threads = c.lanes;
  }
  c.lanes_shift = log2_lanes(c.lanes);
  c.rows_per_block = c.threads / c.lanes;
  c.group_lanes = variant_quantizes(p.variant) && p.group_size > 0
                      ? static_cast<int>(p.group_size / c.vec)
                      : 0;
  const int64_t blocks_per_sm = target.max_threads_per_sm / c.threads;
  if (takes_dense_rows(target, p, c)) {
    // One block per row group: the hardware schedules rows as blocks finish.
    c.dense_rows = 1;
    c.grid_waves = 0;
    c.threads = dense_row_threads(target, p, c.lanes);
    c.rows_per_block = c.threads / c.lanes;
    // Measured with an L1 weight prefetch on every launch of one wave, the
    // dense kernel ran 1.2-2.6x slower (H100 bf16, T = 1024; h256 and h512
    // at T = 8192): only decode launches take it, and only kernels that do
    // not load the weights with the row (LayerNorm, the group-scale
    // quantising fused add).
    if (!target.dense_prefetch) c.prefetch_weights = 0;
    if (splits_dense_decode(target, p, c)) {
      split_row_vectors(&c);
      c.threads = c.lanes;
      c.rows_per_block = 1;
    } else if (variant_spreads_decode(p.variant) && !writes_in_place(p)) {
      const int64_t groups = ceil_div(p.rows, c.rows_per_block);
      while ((2 << c.slice_shift) <= target.dense_decode_slices && (2 << c.slice_shift) <= c.chunks &&
             (groups << (c.slice_shift + 1)) <= target.sm_count)
        ++c.slice_shift;
    }
    set_grid(&c, p.rows, target.sm_count, target.max_threads_per_sm / c.threads);
    return c;
  }
  // Staging (stage_rows) keeps the next row group's loads in flight; the
  // launcher switches it off again for single-wave launches, knowing the
  // kernel's occupancy with the buffer.
  const bool stages = target.async_copy && (target.stage_rows || keeps_row_in_shared(p.variant, c.chunks)) &&
                      stage_bytes(c, p.variant, vec_bytes) > 0;
  c.stage_rows = stages ? 1 : 0;
  // Where nothing is staged, short rows (a loop and reduction per 16-byte
  // chunk) with plenty of row groups are batched instead (same per-row
  // arithmetic, so batch-invariant; staging was 1-3% faster on the H100's
  // Q/K-norm cases). Plain RMSNorm only: the fused add's extra pointers
  // spilled (64 registers under the 1024-thread bound of one-vector
  // kernels), as did batches of 3 and 4.
  if (!stages && target.batch_rows && p.variant == NormVariant::kRms && c.chunks == 1 && c.lanes <= warp &&
      ceil_div(p.rows, c.rows_per_block) >= int64_t{kRowBatch} * target.sm_count * blocks_per_sm)
    c.row_batch = kRowBatch;
  set_grid(&c, p.rows, target.sm_count, blocks_per_sm);
  return c;
}

// Per-group scales are reduced with shuffles over group_lanes adjacent lanes
// of one row: a power of two no wider than a warp (and so no wider than the
// row's lanes). Returns nullptr when the launch is supported, else why not.
inline const char* unsupported_launch(const LaunchConfig& c, const TargetInfo& target) {
  if (c.group_lanes == 0) return nullptr;
  if ((c.group_lanes & (c.group_lanes - 1)) != 0 || c.group_lanes > target.warp_size ||
      c.group_lanes > c.lanes)
    return "per-group quantisation on the GPU needs group_size / vector width to be a power "
           "of two no larger than the warp size (vector width: 16 bytes of the input dtype "
           "when every tensor is aligned, else 1)";
  return nullptr;
}

// Times a streamed row (chunks == 0) is read again after the prologue pass:
// the store pass, plus the LayerNorm variance pass and the per-row quant max
// pass. Per-group quant folds its max into the store pass.
AITER_HD int streamed_rereads(NormVariant v, int64_t group_size) {
  return 1 + (variant_centers(v) ? 1 : 0) + (variant_quantizes(v) && group_size == 0 ? 1 : 0);
}

// --- the thread -> element map (kernels and simulation) -------------------

// Blocks walk row groups blockIdx, blockIdx + grid, ... while this holds
// (uniform across the block, so block-wide barriers inside are safe).
AITER_HD bool row_group_in_range(const LaunchConfig& c, int64_t group, int64_t rows) {
  return group * c.rows_per_block < rows;
}

// Row handled by `thread` in row group `group` (may be >= rows in the last
// group: such threads load and store nothing but join the reductions).
AITER_HD int64_t row_of(const LaunchConfig& c, int64_t group, int thread) {
  return group * c.rows_per_block + (thread >> c.lanes_shift);
}

// Vector index within the row of a thread's k-th chunk.
AITER_HD int64_t chunk_of(const LaunchConfig& c, int thread, int64_t k) {
  return (thread & (c.lanes - 1)) + k * c.lanes;
}

AITER_HD bool chunk_in_row(const LaunchConfig& c, int64_t chunk) { return chunk < c.chunks_per_row; }

// Sliced launches (slice_shift): the row group block `block` takes first,
// its slice, and whether a slice stores chunk slot k (slot k: slice k mod
// 2^slice_shift; `mask` is slice_mask). Unsliced launches: the block's own
// index, and every slot.
// (Dense-row grids stay below 2^31 blocks: 32-bit block indices.)
AITER_HD int64_t first_row_group(const LaunchConfig& c, uint32_t block) { return block >> c.slice_shift; }
AITER_HD int slice_mask(const LaunchConfig& c) { return (1 << c.slice_shift) - 1; }
AITER_HD int block_slice(int block, int mask) { return block & mask; }
AITER_HD bool slice_stores_slot(int slice, int mask, int k) { return ((k ^ slice) & mask) == 0; }

// Chunk slots a thread walks per row: the register cache, or enough to cover
// the row when streaming.
AITER_HD int64_t chunk_slots(const LaunchConfig& c) {
  return c.chunks > 0 ? c.chunks : (c.chunks_per_row + c.lanes - 1) / c.lanes;
}

}  // namespace aiter
