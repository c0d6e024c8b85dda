// Registration: the torch.library ops (namespace `aiter`, schemas with
// mutation annotations so torch.compile and CUDA graphs see what is written)
// and a small pybind11 module for the layout planner, the launch planner
// (used by the launch simulation) and the fallback counter.
#include <pybind11/stl.h>
#include <torch/extension.h>
#include <torch/library.h>

#include "host/gpu_launch.h"
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

// The launch the GPU launcher would choose, for the simulation. Tensors are
// given as (byte address, leading sizes, leading strides).
using ViewSpec = std::tuple<int64_t, std::vector<int64_t>, std::vector<int64_t>>;

py::dict choose_launch_py(int warp_size, int sm_count, int max_threads_per_sm, int elem_size,
                          bool add, int64_t hidden, int64_t weight_address,
                          int64_t weight_stride, const ViewSpec& input, const ViewSpec& out,
                          const ViewSpec& residual_in, const ViewSpec& residual_out) {
  NormParams p{};
  p.dtype = elem_size == 4 ? DType::kFloat32 : DType::kBFloat16;
  p.variant = add ? NormVariant::kAddRms : NormVariant::kRms;
  p.hidden = hidden;
  p.weight = reinterpret_cast<const void*>(weight_address);
  p.weight_stride = weight_stride;
  auto fill = [&](const ViewSpec& v, const void** ptr, RowLayout* l) {
    *ptr = reinterpret_cast<const void*>(std::get<0>(v));
    *l = layout_from(std::get<1>(v), std::get<2>(v));
  };
  int64_t rows = 1;
  for (int64_t s : std::get<1>(input)) rows *= s;
  p.rows = rows;
  const void* out_ptr = nullptr;
  const void* res_out_ptr = nullptr;
  fill(input, &p.input, &p.input_rows);
  fill(out, &out_ptr, &p.out_rows);
  p.out = const_cast<void*>(out_ptr);
  if (add) {
    fill(residual_in, &p.residual_in, &p.residual_in_rows);
    fill(residual_out, &res_out_ptr, &p.residual_out_rows);
    p.residual_out = const_cast<void*>(res_out_ptr);
  }
  const LaunchConfig c = choose_launch({warp_size, sm_count, max_threads_per_sm}, p);
  py::dict r;
  r["vec"] = c.vec;
  r["lanes"] = c.lanes;
  r["chunks"] = c.chunks;
  r["threads"] = c.threads;
  r["rows_per_block"] = c.rows_per_block;
  r["grid"] = c.grid;
  r["chunks_per_row"] = c.chunks_per_row;
  r["chunk_slots"] = chunk_slots(c);
  return r;
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
  m.def("choose_launch", &aiter::choose_launch_py);
  m.attr("max_row_dims") = aiter::kMaxRowDims;
}
