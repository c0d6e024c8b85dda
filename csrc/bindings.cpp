// Registration: the torch.library ops (namespace `aiter`, schemas with
// mutation annotations so torch.compile and CUDA graphs see what is written;
// implementations in host/norm_ops.cpp) and a small pybind11 module for the
// layout planner, the launch planner (used by the launch simulation), the
// fallback counter and the eager entry.
#include <pybind11/stl.h>
#include <torch/extension.h>
#include <torch/library.h>

#include "eager_bindings.h"
#include "launch_policy_bindings.h"
#include "simt_bindings.h"
#include "host/gpu_launch.h"
#include "host/launch_simulation.h"
#include "host/message.h"
#include "host/norm_launcher.h"
#include "host/norm_ops.h"
#include "host/simt_dispatch.h"
#include "include/launch_config.h"
#include "include/launch_tune.h"
#include "include/quant_convert.h"

#include <ATen/Parallel.h>

namespace aiter {
namespace {

at::Tensor opt(const c10::optional<at::Tensor>& t) { return t.has_value() ? *t : at::Tensor(); }

// The encoders, for the exhaustive tests against torch's casts: float32 in,
// the encoded bytes out (uint8). CPU tensors: quant_convert.h, or the
// kernels' encoders on the CPU SIMT executor while one is in use; GPU
// tensors: the kernels' encoders (hardware conversions where they have them).
at::Tensor quantize_bytes_py(const at::Tensor& x, const std::string& kind) {
  TORCH_CHECK_VALUE(x.scalar_type() == at::kFloat, "quantize_bytes: a float32 tensor");
  const QuantType q = kind == "int8" ? QuantType::kInt8
                      : kind == "e4m3fn" ? QuantType::kFp8E4M3Fn
                      : kind == "e4m3fnuz" ? QuantType::kFp8E4M3Fnuz
                      : QuantType::kNone;
  TORCH_CHECK_VALUE(q != QuantType::kNone, aiter::message("quantize_bytes: unknown kind ", kind));
  if (!x.is_cpu()) return quantize_bytes_gpu(x, q);
  if (simt_active()) return simt_quantize_bytes(x, q);  // the kernels' encoders on the CPU SIMT executor
  const at::Tensor src = x.contiguous();
  at::Tensor out = at::empty(src.sizes(), src.options().dtype(at::kByte));
  const float* in = src.data_ptr<float>();
  uint8_t* o = out.data_ptr<uint8_t>();
  at::parallel_for(0, src.numel(), 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) o[i] = quantize_to_byte(in[i], q);
  });
  return out;
}

py::dict plan_rows_py(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  TORCH_CHECK_VALUE(sizes.size() == strides.size() && sizes.size() <= 64, aiter::message("plan_rows: sizes and strides must have one entry per leading dim"));
  RowLayout l{};
  int64_t rows = 0;
  const bool fits = collapse_row_dims(static_cast<int>(sizes.size()), sizes.data(),
                                      strides.data(), &l, &rows);
  std::vector<int64_t> s, st;
  for (int d = kMaxRowDims - l.ndim; d < kMaxRowDims; ++d) {
    s.push_back(l.sizes[d]);
    st.push_back(l.strides[d]);
  }
  py::dict r;
  r["fits"] = fits;
  r["rows"] = rows;
  r["sizes"] = s;
  r["strides"] = st;
  return r;
}

RowLayout layout_from(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  RowLayout l{};
  int64_t rows = 0;
  TORCH_CHECK_VALUE(collapse_row_dims(static_cast<int>(sizes.size()), sizes.data(),
                                      strides.data(), &l, &rows), aiter::message("layout needs more than ", kMaxRowDims, " row dims"));
  return l;
}

// dense: the dense-row kernels' formula (two_dim_row_offset), for layouts
// that collapse to at most two row dims and rows below 2^31.
int64_t row_offset_py(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides,
                      int64_t row, bool dense) {
  int64_t rows = 1;
  for (const int64_t s : sizes) rows *= s;
  TORCH_CHECK_VALUE(row >= 0 && row < rows, aiter::message("row_offset: row ", row, " is outside [0, ", rows, ")"));
  const RowLayout l = layout_from(sizes, strides);
  if (!dense) return row_offset(l, row);
  TORCH_CHECK_VALUE(l.ndim <= 2 && row <= INT32_MAX,
                    aiter::message("row_offset(dense=True): needs at most two row dims and a row below 2^31"));
  return two_dim_row_offset(l, static_cast<uint32_t>(row));
}

py::dict counts_dict(const AccessCounts& a) {
  py::dict d;
  d["reads"] = a.reads;
  d["writes"] = a.writes;
  return d;
}

// simulate_launch(out, input, weight, residual_in, residual_out, warp_size,
// sm_count, max_threads_per_sm, blocks_per_sm, ...): residuals None for the
// plain norm; layer / yscale (quantising; out int8/fp8) / group_size /
// out_before_quant / k, k_out, k_weight (a two-job launch) pick the variant;
// async_copy models a GPU that stages row groups (LaunchConfig::stage_rows);
// dense_rows false models a target without dense-row launches (the general
// kernel's paths for layouts that would take them); decode_split is
// TargetInfo::decode_split (0 no split decode launches, 1 every variant's,
// 2 the quantising variants', the GPU's default); dense_split is
// TargetInfo::dense_decode_split. The target is the one derive_target gives
// those properties (wave64 ones are gfx9, built by ROCm: its block bounds),
// with the flags above, then `tune` (an AITER_LAUNCH_TUNE / table spec, e.g.
// a per-GPU table's) applied on top. walk false plans only (config,
// compact_params and shape violations; no access counts).
py::dict simulate_launch_py(const at::Tensor& out, const at::Tensor& input, const at::Tensor& weight,
                            const c10::optional<at::Tensor>& residual_in,
                            const c10::optional<at::Tensor>& residual_out, int warp_size,
                            int sm_count, int max_threads_per_sm, int64_t blocks_per_sm, bool layer,
                            const c10::optional<at::Tensor>& yscale, int64_t group_size,
                            const c10::optional<at::Tensor>& out_before_quant,
                            const c10::optional<at::Tensor>& k, const c10::optional<at::Tensor>& k_out,
                            const c10::optional<at::Tensor>& k_weight, bool async_copy, bool dense_rows,
                            int decode_split, bool dense_split, const std::string& tune, bool walk) {
  const bool add = residual_in.has_value();
  TORCH_CHECK_VALUE(add == residual_out.has_value(),
                    aiter::message("simulate_launch: pass both residuals or neither"));
  const bool quant = yscale.has_value();
  const NormVariant variant = k.has_value() ? NormVariant::kQkRms : make_variant(add, quant, layer);
  NormCall call{"aiter.simulate_launch", variant, out, input,
                add ? *residual_in : at::Tensor(), add ? *residual_out : at::Tensor(), weight, 1e-6, false, 0};
  call.yscale = opt(yscale);
  call.group_size = group_size;
  call.unquant = opt(out_before_quant);
  call.input_b = opt(k);
  call.out_b = opt(k_out);
  call.weight_b = opt(k_weight);
  DeviceProps props;
  props.warp_size = warp_size;
  props.sm_count = sm_count;
  props.max_threads_per_sm = max_threads_per_sm;
  props.async_copy = async_copy ? 1 : 0;
  props.epilogue_full_blocks = warp_size == 64 ? 0 : 1;
  TargetInfo target = derive_target(props);
  target.dense_rows = dense_rows ? 1 : 0;
  TORCH_CHECK_VALUE(decode_split >= 0 && decode_split <= 2,
                    aiter::message("simulate_launch: decode_split must be 0, 1 or 2, got ", decode_split));
  target.decode_split = decode_split;
  target.dense_decode_split = dense_split ? 1 : 0;
  const std::string why = apply_tune(&target, tune);
  TORCH_CHECK_VALUE(why.empty(), aiter::message("simulate_launch: tune: ", why));
  const SimulationResult r = simulate_launch(call, target, blocks_per_sm, walk);
  py::dict config;
  config["vec"] = r.config.vec;
  config["lanes"] = r.config.lanes;
  config["chunks"] = r.config.chunks;
  config["threads"] = r.config.threads;
  config["rows_per_block"] = r.config.rows_per_block;
  config["grid"] = r.config.grid;
  config["chunks_per_row"] = r.config.chunks_per_row;
  config["group_lanes"] = r.config.group_lanes;
  config["split"] = r.config.split;
  config["row_batch"] = r.config.row_batch;
  config["prefetch_weights"] = r.config.prefetch_weights;
  config["stage_rows"] = r.config.stage_rows;
  config["dense_rows"] = r.config.dense_rows;
  config["slice_shift"] = r.config.slice_shift;
  config["compact_params"] = r.compact_params ? 1 : 0;
  py::dict d;
  d["config"] = config;
  d["input"] = counts_dict(r.input);
  d["out"] = counts_dict(r.out);
  if (add) {
    d["residual_in"] = counts_dict(r.residual_in);
    d["residual_out"] = counts_dict(r.residual_out);
  }
  if (quant) {
    d["yscale"] = counts_dict(r.yscale);
    if (out_before_quant.has_value()) d["out_before_quant"] = counts_dict(r.unquant);
  }
  if (k.has_value()) {
    d["k"] = counts_dict(r.input_b);
    d["k_out"] = counts_dict(r.out_b);
  }
  d["misaligned_vectors"] = r.misaligned_vectors;
  d["outside_span"] = r.outside_span;
  d["shape_violations"] = r.shape_violations;
  return d;
}

}  // namespace
}  // namespace aiter

TORCH_LIBRARY(aiter, m) {
  m.def(
      "rmsnorm(Tensor(a!) out, Tensor input, Tensor weight, float epsilon, "
      "bool gemma_norm=False, int use_model_sensitive_rmsnorm=0) -> ()");
  m.def(
      "add_rmsnorm(Tensor(a!) out, Tensor input, Tensor residual_in, Tensor(b!) residual_out, "
      "Tensor weight, float epsilon, bool gemma_norm=False, "
      "int use_model_sensitive_rmsnorm=0) -> ()");
  m.def(
      "fused_add_rmsnorm_(Tensor(a!) input, Tensor(b!) residual, Tensor weight, float epsilon, "
      "bool gemma_norm=False, int use_model_sensitive_rmsnorm=0) -> ()");
  m.def(
      "rmsnorm_quant(Tensor(a!) out, Tensor input, Tensor(b!) yscale, Tensor weight, float epsilon, "
      "Tensor? xscale=None, Tensor(c!)? out_before_quant=None, int group_size=0, bool shuffle_scale=False, "
      "bool gemma_norm=False, int use_model_sensitive_rmsnorm=0) -> ()");
  m.def(
      "add_rmsnorm_quant(Tensor(a!) out, Tensor input, Tensor residual_in, Tensor(b!) residual_out, "
      "Tensor(c!) yscale, Tensor weight, float epsilon, Tensor? xscale=None, "
      "Tensor(d!)? out_before_quant=None, int group_size=0, bool shuffle_scale=False, bool gemma_norm=False, "
      "int use_model_sensitive_rmsnorm=0) -> ()");
  m.def(
      "layernorm(Tensor(a!) out, Tensor input, Tensor? weight, Tensor? bias, float epsilon, "
      "Tensor? x_bias=None) -> ()");
  m.def(
      "add_layernorm(Tensor(a!) out, Tensor input, Tensor residual_in, Tensor(b!) residual_out, "
      "Tensor? weight, Tensor? bias, float epsilon, Tensor? x_bias=None) -> ()");
  m.def(
      "layernorm_quant(Tensor(a!) out, Tensor input, Tensor(b!) yscale, Tensor? weight, Tensor? bias, "
      "float epsilon, Tensor? xscale=None, Tensor? x_bias=None) -> ()");
  m.def(
      "add_layernorm_quant(Tensor(a!) out, Tensor input, Tensor residual_in, Tensor(b!) residual_out, "
      "Tensor(c!) yscale, Tensor? weight, Tensor? bias, float epsilon, Tensor? xscale=None, "
      "Tensor? x_bias=None) -> ()");
  m.def(
      "qk_rmsnorm(Tensor(a!) q_out, Tensor q, Tensor q_weight, Tensor(b!) k_out, Tensor k, Tensor k_weight, "
      "float epsilon) -> ()");
  m.def("qk_rmsnorm_(Tensor(a!) q, Tensor(b!) k, Tensor q_weight, Tensor k_weight, float epsilon) -> ()");
  // upstream's argument order; quantising when q_out_scale is given
  // (group_size 0: one scale per row; shuffle_scale: group-major scales).
  m.def(
      "fused_qk_rmsnorm(Tensor(a!)? q_out_quantized, Tensor(b!)? q_out_scale, Tensor q, Tensor q_weight, "
      "float q_epsilon, Tensor(c!)? q_out_unquantized, Tensor(d!)? k_out, Tensor(e!)? q_res_out, Tensor? k, "
      "Tensor? k_weight, float k_epsilon, Tensor? q_residual, int group_size=0, bool shuffle_scale=False, "
      "bool gemma_norm=False) -> ()");
}

// One implementation for every backend key: the launcher dispatches on the
// tensors' device itself, and rejects sparse and other layouts with a clear
// message. Meta tensors go to the fake implementations registered in Python.
TORCH_LIBRARY_IMPL(aiter, CompositeExplicitAutograd, m) {
#define AITER_IMPL(name, fn) m.impl(#name, &aiter::fn);
  AITER_NORM_OPS(AITER_IMPL)
#undef AITER_IMPL
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "aiter (stride-aware fork): compiled backend";
  m.def("gpu_backend_available", &aiter::gpu_backend_available);
  m.def("gather_fallback_count", &aiter::gather_fallback_count);
  m.def("reset_gather_fallback_count", &aiter::reset_gather_fallback_count);
  m.def("set_strict_layout", &aiter::set_strict_layout);
  m.def("strict_layout", &aiter::strict_layout);
  m.def("plan_rows", &aiter::plan_rows_py, py::arg("sizes"), py::arg("strides"));
  m.def("row_offset", &aiter::row_offset_py, py::arg("sizes"), py::arg("strides"),
        py::arg("row"), py::arg("dense") = false);
  m.def("simulate_launch", &aiter::simulate_launch_py, py::arg("out"), py::arg("input"),
        py::arg("weight"), py::arg("residual_in") = py::none(),
        py::arg("residual_out") = py::none(), py::arg("warp_size"), py::arg("sm_count"),
        py::arg("max_threads_per_sm"), py::arg("blocks_per_sm") = 0, py::arg("layer") = false,
        py::arg("yscale") = py::none(), py::arg("group_size") = 0, py::arg("out_before_quant") = py::none(),
        py::arg("k") = py::none(), py::arg("k_out") = py::none(), py::arg("k_weight") = py::none(),
        py::arg("async_copy") = false, py::arg("dense_rows") = true, py::arg("decode_split") = 2,
        py::arg("dense_split") = true, py::arg("tune") = "", py::arg("walk") = true);
  m.attr("max_row_dims") = aiter::kMaxRowDims;
  m.def("quantize_bytes", &aiter::quantize_bytes_py, py::arg("x"), py::arg("kind"));
  aiter::register_eager_entries(m);
  aiter::register_launch_policy(m);
  aiter::register_simt_bindings(m);
}
