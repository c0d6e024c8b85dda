// Registration: the torch.library ops (namespace `aiter`, schemas with
// mutation annotations so torch.compile and CUDA graphs see what is written)
// and a small pybind11 module for the layout planner, the launch planner
// (used by the launch simulation) and the fallback counter.
#include <pybind11/stl.h>
#include <torch/extension.h>
#include <torch/library.h>

#include "eager_bindings.h"
#include "host/gpu_launch.h"
#include "host/launch_simulation.h"
#include "host/message.h"
#include "host/norm_launcher.h"
#include "include/launch_config.h"

namespace aiter {
namespace {

void rmsnorm_op(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight,
                double epsilon, bool gemma_norm, int64_t use_model_sensitive_rmsnorm) {
  run_row_norm({"aiter.rmsnorm", NormVariant::kRms, out, input, {}, {}, weight, epsilon,
                gemma_norm, use_model_sensitive_rmsnorm});
}

void add_rmsnorm_op(at::Tensor& out, const at::Tensor& input, const at::Tensor& residual_in,
                    at::Tensor& residual_out, const at::Tensor& weight, double epsilon,
                    bool gemma_norm, int64_t use_model_sensitive_rmsnorm) {
  run_row_norm({"aiter.add_rmsnorm", NormVariant::kAddRms, out, input, residual_in,
                residual_out, weight, epsilon, gemma_norm, use_model_sensitive_rmsnorm});
}

// In place: residual <- input + residual; input <- rmsnorm(residual) * w.
void fused_add_rmsnorm_inplace_op(at::Tensor& input, at::Tensor& residual,
                                  const at::Tensor& weight, double epsilon, bool gemma_norm,
                                  int64_t use_model_sensitive_rmsnorm) {
  run_row_norm({"aiter.fused_add_rms_norm_cu", NormVariant::kAddRms, input, input, residual,
                residual, weight, epsilon, gemma_norm, use_model_sensitive_rmsnorm});
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

int64_t row_offset_py(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides,
                      int64_t row) {
  return row_offset(layout_from(sizes, strides), row);
}

py::dict counts_dict(const AccessCounts& a) {
  py::dict d;
  d["reads"] = a.reads;
  d["writes"] = a.writes;
  return d;
}

// simulate_launch(out, input, weight, residual_in, residual_out, warp_size,
// sm_count, max_threads_per_sm, blocks_per_sm): residuals None for the plain norm.
py::dict simulate_launch_py(const at::Tensor& out, const at::Tensor& input, const at::Tensor& weight,
                            const c10::optional<at::Tensor>& residual_in,
                            const c10::optional<at::Tensor>& residual_out, int warp_size,
                            int sm_count, int max_threads_per_sm, int64_t blocks_per_sm) {
  const bool add = residual_in.has_value();
  TORCH_CHECK_VALUE(add == residual_out.has_value(),
                    aiter::message("simulate_launch: pass both residuals or neither"));
  NormCall call{"aiter.simulate_launch", add ? NormVariant::kAddRms : NormVariant::kRms, out,
                input, add ? *residual_in : at::Tensor(), add ? *residual_out : at::Tensor(),
                weight, 1e-6, false, 0};
  const SimulationResult r =
      simulate_launch(call, {warp_size, sm_count, max_threads_per_sm}, blocks_per_sm);
  py::dict config;
  config["vec"] = r.config.vec;
  config["lanes"] = r.config.lanes;
  config["chunks"] = r.config.chunks;
  config["threads"] = r.config.threads;
  config["rows_per_block"] = r.config.rows_per_block;
  config["grid"] = r.config.grid;
  config["chunks_per_row"] = r.config.chunks_per_row;
  py::dict d;
  d["config"] = config;
  d["input"] = counts_dict(r.input);
  d["out"] = counts_dict(r.out);
  if (add) {
    d["residual_in"] = counts_dict(r.residual_in);
    d["residual_out"] = counts_dict(r.residual_out);
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
}

// One implementation for every backend key: the launcher dispatches on the
// tensors' device itself, and rejects sparse and other layouts with a clear
// message. Meta tensors go to the fake implementations registered in Python.
TORCH_LIBRARY_IMPL(aiter, CompositeExplicitAutograd, m) {
  m.impl("rmsnorm", &aiter::rmsnorm_op);
  m.impl("add_rmsnorm", &aiter::add_rmsnorm_op);
  m.impl("fused_add_rmsnorm_", &aiter::fused_add_rmsnorm_inplace_op);
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
        py::arg("row"));
  m.def("simulate_launch", &aiter::simulate_launch_py, py::arg("out"), py::arg("input"),
        py::arg("weight"), py::arg("residual_in") = py::none(),
        py::arg("residual_out") = py::none(), py::arg("warp_size"), py::arg("sm_count"),
        py::arg("max_threads_per_sm"), py::arg("blocks_per_sm") = 0);
  m.attr("max_row_dims") = aiter::kMaxRowDims;
  aiter::register_eager_entries(m);
}
