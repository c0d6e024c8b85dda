#include "norm_launcher.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../cpu/norm_rows_cpu.h"
#include "gpu_launch.h"
#include "message.h"
#include "simt_dispatch.h"
#include "tensor_checks.h"

namespace aiter {
namespace {

std::atomic<int64_t> g_gather_calls{0};

bool strict_from_env() {
  const char* v = std::getenv("AITER_STRICT_LAYOUT");
  return v != nullptr && std::strcmp(v, "") != 0 && std::strcmp(v, "0") != 0;
}
std::atomic<bool> g_strict{strict_from_env()};

DType dtype_of(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kHalf: return DType::kFloat16;
    case at::kBFloat16: return DType::kBFloat16;
    default: return DType::kFloat32;
  }
}

QuantType quant_type_of(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kChar: return QuantType::kInt8;
    case at::kFloat8_e4m3fn: return QuantType::kFp8E4M3Fn;
    case at::kFloat8_e4m3fnuz: return QuantType::kFp8E4M3Fnuz;
    default: return QuantType::kNone;
  }
}

int64_t groups_of(const NormCall& c) {
  return c.group_size > 0 ? c.input.size(-1) / c.group_size : 1;
}

void no_overlap(const NormCall& c, const char* a_name, const at::Tensor& a, const char* b_name,
                const at::Tensor& b, AliasPolicy policy = AliasPolicy::kNoOverlap) {
  if (a.defined() && b.defined()) check_no_partial_overlap(c.op, a_name, a, b_name, b, policy);
}

void check_call(const NormCall& c, ScaleLayout* scale) {
  const bool add = variant_adds(c.variant);
  const bool quant = variant_quantizes(c.variant);
  const bool layer = variant_centers(c.variant);
  const bool two = variant_two_jobs(c.variant);
  check_input_tensor(c.op, c.names.input, c.input);
  if (quant)
    check_quant_out(c.op, c.names.out, c.out, c.input);
  else
    check_rows_tensor(c.op, c.names.out, c.out, c.input);
  if (add) {
    check_rows_tensor(c.op, c.names.residual_in, c.residual_in, c.input);
    check_rows_tensor(c.op, c.names.residual_out, c.residual_out, c.input);
  }
  if (layer) {
    if (c.weight.defined()) check_param(c.op, c.names.weight, c.weight, c.input);
    if (c.bias.defined()) check_param(c.op, "bias", c.bias, c.input);
    if (c.x_bias.defined()) check_param(c.op, "x_bias", c.x_bias, c.input);
  } else {
    check_param(c.op, c.names.weight, c.weight, c.input);
  }
  check_epsilon(c.op, c.epsilon);
  TORCH_CHECK_VALUE(c.model_sensitive == 0 || c.model_sensitive == 1, aiter::message(c.op,
                    ": argument 'use_model_sensitive_rmsnorm' must be 0 or 1, got ",
                    c.model_sensitive));
  if (quant) {
    const int64_t hidden = c.input.size(-1);
    TORCH_CHECK_VALUE(c.group_size >= 0 && (c.group_size == 0 || hidden % c.group_size == 0),
                      aiter::message(c.op, ": argument 'group_size' must be 0 (one scale per row) or "
                      "divide hidden = ", hidden, ", got ", c.group_size));
    if (c.xscale.defined()) check_xscale(c.op, c.xscale, c.input);
    if (c.unquant.defined()) check_rows_tensor(c.op, c.names.unquant, c.unquant, c.input);
    scale->rows = RowLayout{};
    if (!check_and_plan_scale(c.op, c.names.yscale, c.yscale, c.input, groups_of(c), c.shuffle_scale, scale))
      scale->rows.ndim = -1;  // gathered below
  }
  if (two) {
    check_input_tensor(c.op, c.names.input_b, c.input_b);
    check_rows_tensor(c.op, c.names.out_b, c.out_b, c.input_b);
    TORCH_CHECK_VALUE(c.input_b.size(-1) == c.input.size(-1) &&
                      c.input_b.scalar_type() == c.input.scalar_type() &&
                      c.input_b.device() == c.input.device(),
                      aiter::message(c.op, ": argument '", c.names.input_b, "' (", describe(c.input_b),
                      ") must have the head size (last dim), dtype and device of '", c.names.input, "' (",
                      describe(c.input), ")"));
    check_param(c.op, c.names.weight_b, c.weight_b, c.input_b);
  }

  // Outputs: no element written twice, no partial overlap with anything.
  const ArgNames& n = c.names;
  check_no_internal_overlap(c.op, n.out, c.out);
  no_overlap(c, n.out, c.out, n.input, c.input, AliasPolicy::kSameViewAllowed);
  const std::pair<const char*, const at::Tensor*> params[] = {
      {n.weight, &c.weight}, {"bias", &c.bias}, {"x_bias", &c.x_bias},
      {"xscale", &c.xscale}, {n.weight_b, &c.weight_b}};
  for (const auto& [name, t] : params) no_overlap(c, n.out, c.out, name, *t);
  if (add) {
    check_no_internal_overlap(c.op, n.residual_out, c.residual_out);
    no_overlap(c, n.out, c.out, n.residual_in, c.residual_in, AliasPolicy::kSameViewAllowed);
    no_overlap(c, n.out, c.out, n.residual_out, c.residual_out);
    no_overlap(c, n.residual_out, c.residual_out, n.input, c.input, AliasPolicy::kSameViewAllowed);
    no_overlap(c, n.residual_out, c.residual_out, n.residual_in, c.residual_in,
               AliasPolicy::kSameViewAllowed);
    for (const auto& [name, t] : params) no_overlap(c, n.residual_out, c.residual_out, name, *t);
  }
  if (quant) {
    // Written: yscale and out_before_quant, which must not touch any other argument.
    const std::pair<const char*, const at::Tensor*> all[] = {
        {n.out, &c.out}, {n.input, &c.input}, {n.residual_in, &c.residual_in},
        {n.residual_out, &c.residual_out}, {n.weight, &c.weight}, {"bias", &c.bias},
        {"x_bias", &c.x_bias}, {"xscale", &c.xscale}};
    check_no_internal_overlap(c.op, n.yscale, c.yscale);
    for (const auto& [name, t] : all) no_overlap(c, n.yscale, c.yscale, name, *t);
    if (c.unquant.defined()) {
      check_no_internal_overlap(c.op, n.unquant, c.unquant);
      no_overlap(c, n.unquant, c.unquant, n.yscale, c.yscale);
      for (const auto& [name, t] : all) no_overlap(c, n.unquant, c.unquant, name, *t);
    }
  }
  if (two) {
    check_no_internal_overlap(c.op, n.out_b, c.out_b);
    no_overlap(c, n.out_b, c.out_b, n.input_b, c.input_b, AliasPolicy::kSameViewAllowed);
    no_overlap(c, n.out_b, c.out_b, n.input, c.input);
    no_overlap(c, n.out_b, c.out_b, n.out, c.out);
    no_overlap(c, n.out, c.out, n.input_b, c.input_b);
    no_overlap(c, n.out_b, c.out_b, n.weight, c.weight);
    no_overlap(c, n.out_b, c.out_b, n.weight_b, c.weight_b);
  }
}

Operand plan_operand(const NormCall& c, const char* name, const at::Tensor& t, bool is_output,
                     bool* any_gather) {
  Operand o{t, {}, false};
  if (plan_row_layout(t, &o.rows)) return o;
  TORCH_CHECK_VALUE(!strict_layout(), aiter::message(c.op, ": argument '", name, "' (", describe(t),
                    ") cannot be read in place (last-dim stride must be 1 and at most ",
                    kMaxRowDims,
                    " row dims after collapsing), and strict layout mode forbids the gather "
                    "copy (AITER_STRICT_LAYOUT / aiter.set_strict_layout)"));
  o.view = is_output ? at::empty(t.sizes(), t.options()) : t.contiguous();
  o.gathered = true;
  *any_gather = true;
  plan_row_layout(o.view, &o.rows);
  return o;
}

const void* ptr_or_null(const at::Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }
int64_t stride0(const at::Tensor& t) { return t.defined() && t.size(0) > 1 ? t.stride(0) : 1; }

}  // namespace

PlannedCall plan_call(const NormCall& c) {
  ScaleLayout scale;
  check_call(c, &scale);
  PlannedCall pc;
  const int64_t hidden = c.input.size(-1);
  const int64_t rows_a = c.input.numel() / hidden;
  const bool two = variant_two_jobs(c.variant);
  const int64_t rows = rows_a + (two ? c.input_b.numel() / hidden : 0);
  pc.empty = rows == 0;
  if (pc.empty) return pc;

  const bool add = variant_adds(c.variant);
  const bool quant = variant_quantizes(c.variant);
  bool any_gather = false;
  pc.input = plan_operand(c, c.names.input, c.input, false, &any_gather);
  pc.out = plan_operand(c, c.names.out, c.out, true, &any_gather);
  if (add) {
    pc.residual_in = plan_operand(c, c.names.residual_in, c.residual_in, false, &any_gather);
    pc.residual_out = plan_operand(c, c.names.residual_out, c.residual_out, true, &any_gather);
  }
  if (quant && c.unquant.defined())
    pc.unquant = plan_operand(c, c.names.unquant, c.unquant, true, &any_gather);
  if (two) {
    pc.input_b = plan_operand(c, c.names.input_b, c.input_b, false, &any_gather);
    pc.out_b = plan_operand(c, c.names.out_b, c.out_b, true, &any_gather);
  }
  if (quant) {
    pc.yscale = c.yscale;
    if (scale.rows.ndim < 0) {
      // Row dims that do not collapse: write a dense buffer, copied back.
      TORCH_CHECK_VALUE(!strict_layout(), aiter::message(c.op, ": argument '", c.names.yscale, "' (", describe(c.yscale),
                        ") cannot be written in place (more than ", kMaxRowDims,
                        " row dims after collapsing), and strict layout mode forbids the gather copy"));
      pc.yscale = at::empty({rows_a, groups_of(c)}, c.yscale.options());
      pc.yscale_gathered = true;
      any_gather = true;
      int64_t counted = 0;
      const int64_t rows_only[1] = {rows_a}, unit[1] = {groups_of(c)};
      collapse_row_dims(1, rows_only, unit, &scale.rows, &counted);
      scale.group_stride = 1;
    }
  }
  pc.gathered = any_gather;

  NormParams& p = pc.params;
  p = NormParams{};
  p.input = pc.input.view.data_ptr();
  p.out = pc.out.view.data_ptr();
  p.input_rows = pc.input.rows;
  p.out_rows = pc.out.rows;
  if (add) {
    p.residual_in = pc.residual_in.view.data_ptr();
    p.residual_out = pc.residual_out.view.data_ptr();
    p.residual_in_rows = pc.residual_in.rows;
    p.residual_out_rows = pc.residual_out.rows;
  }
  p.weight = ptr_or_null(c.weight);
  p.weight_stride = stride0(c.weight);
  p.rows = rows;
  p.hidden = hidden;
  p.inv_hidden = 1.0f / static_cast<float>(hidden);
  p.epsilon = static_cast<float>(c.epsilon);
  p.gemma = c.gemma ? 1 : 0;
  p.model_sensitive = static_cast<int32_t>(c.model_sensitive);
  p.dtype = dtype_of(c.input);
  p.variant = c.variant;
  p.bias = ptr_or_null(c.bias);
  p.bias_stride = stride0(c.bias);
  p.x_bias = ptr_or_null(c.x_bias);
  p.x_bias_stride = stride0(c.x_bias);
  p.quant = QuantType::kNone;
  if (quant) {
    p.quant = quant_type_of(c.out);
    p.inv_qmax = 1.0f / quant_max(p.quant);
    p.group_size = c.group_size;
    p.xscale = c.xscale.defined() ? c.xscale.data_ptr<float>() : nullptr;
    p.xscale_stride = stride0(c.xscale);
    p.yscale = pc.yscale.data_ptr<float>();
    p.yscale_rows = scale.rows;
    p.yscale_group_stride = scale.group_stride;
    if (c.unquant.defined()) {
      p.unquant = pc.unquant.view.data_ptr();
      p.unquant_rows = pc.unquant.rows;
    }
  }
  p.split_row = rows_a;
  if (two) {
    p.input_b = pc.input_b.view.data_ptr();
    p.out_b = pc.out_b.view.data_ptr();
    p.input_b_rows = pc.input_b.rows;
    p.out_b_rows = pc.out_b.rows;
    p.weight_b = c.weight_b.data_ptr();
    p.weight_b_stride = stride0(c.weight_b);
  }
  return pc;
}

void run_planned(const NormCall& c, const PlannedCall& pc) {
  if (pc.empty) return;
  if (pc.gathered) g_gather_calls.fetch_add(1, std::memory_order_relaxed);

  if (c.input.is_cpu() && simt_active())
    simt_run_norm(c, pc);  // the GPU kernels' source on the CPU SIMT executor (tests)
  else if (c.input.is_cpu())
    norm_rows_cpu(pc.params);
  else
    launch_row_norm_gpu(pc.params, c.input, c.op);

  if (pc.out.gathered) c.out.copy_(pc.out.view);
  if (pc.residual_out.gathered) c.residual_out.copy_(pc.residual_out.view);
  if (pc.unquant.gathered) c.unquant.copy_(pc.unquant.view);
  if (pc.out_b.gathered) c.out_b.copy_(pc.out_b.view);
  if (pc.yscale_gathered) c.yscale.copy_(pc.yscale.reshape(c.yscale.sizes()));
}

void run_row_norm(const NormCall& c) { run_planned(c, plan_call(c)); }

namespace {

using Named = std::pair<const char*, const at::Tensor*>;

// The tensors a call writes, and all it touches (defined ones only).
std::vector<Named> written_by(const NormCall& c) {
  const ArgNames& n = c.names;
  std::vector<Named> w{{n.out, &c.out}, {n.residual_out, &c.residual_out}, {n.yscale, &c.yscale},
                       {n.unquant, &c.unquant}, {n.out_b, &c.out_b}};
  w.erase(std::remove_if(w.begin(), w.end(), [](const Named& t) { return !t.second->defined(); }), w.end());
  return w;
}

std::vector<Named> touched_by(const NormCall& c) {
  const ArgNames& n = c.names;
  std::vector<Named> all = written_by(c);
  const Named read[] = {{n.input, &c.input}, {n.residual_in, &c.residual_in}, {n.weight, &c.weight},
                        {"bias", &c.bias}, {"x_bias", &c.x_bias}, {"xscale", &c.xscale},
                        {n.input_b, &c.input_b}, {n.weight_b, &c.weight_b}};
  for (const Named& t : read)
    if (t.second->defined()) all.push_back(t);
  return all;
}

}  // namespace

std::vector<PlannedCall> plan_calls(c10::ArrayRef<NormCall> calls, c10::ArrayRef<NamedTensor> extra_outputs) {
  std::vector<PlannedCall> planned;
  for (const NormCall& c : calls) planned.push_back(plan_call(c));
  const char* op = calls.empty() ? "aiter" : calls[0].op;
  // What one launch writes must not be read or written by another: the
  // launches run one after the other, and nothing may be both.
  for (size_t i = 0; i < calls.size(); ++i)
    for (size_t j = 0; j < calls.size(); ++j)
      if (i != j)
        for (const Named& w : written_by(calls[i]))
          for (const Named& t : touched_by(calls[j]))
            check_no_partial_overlap(op, w.first, *w.second, t.first, *t.second, AliasPolicy::kNoOverlap);
  for (const NamedTensor& extra : extra_outputs) {
    check_no_internal_overlap(op, extra.name, extra.tensor);
    for (const NormCall& c : calls)
      for (const Named& t : touched_by(c))
        check_no_partial_overlap(op, extra.name, extra.tensor, t.first, *t.second, AliasPolicy::kNoOverlap);
  }
  return planned;
}

int64_t gather_fallback_count() { return g_gather_calls.load(); }
void reset_gather_fallback_count() { g_gather_calls.store(0); }
void set_strict_layout(bool strict) { g_strict.store(strict); }
bool strict_layout() { return g_strict.load(); }

}  // namespace aiter
