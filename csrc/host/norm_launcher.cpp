#include "norm_launcher.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../cpu/norm_rows_cpu.h"
#include "gpu_launch.h"
#include "message.h"
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

void check_call(const NormCall& c) {
  const bool add = c.variant == NormVariant::kAddRms;
  check_input_tensor(c.op, "input", c.input);
  check_rows_tensor(c.op, "out", c.out, c.input);
  if (add) {
    check_rows_tensor(c.op, "residual_in", c.residual_in, c.input);
    check_rows_tensor(c.op, "residual_out", c.residual_out, c.input);
  }
  check_weight(c.op, c.weight, c.input);
  check_epsilon(c.op, c.epsilon);
  TORCH_CHECK_VALUE(c.model_sensitive == 0 || c.model_sensitive == 1, aiter::message(c.op,
                    ": argument 'use_model_sensitive_rmsnorm' must be 0 or 1, got ",
                    c.model_sensitive));

  check_no_internal_overlap(c.op, "out", c.out);
  check_no_partial_overlap(c.op, "out", c.out, "input", c.input, AliasPolicy::kSameViewAllowed);
  check_no_partial_overlap(c.op, "out", c.out, "weight", c.weight, AliasPolicy::kNoOverlap);
  if (add) {
    check_no_internal_overlap(c.op, "residual_out", c.residual_out);
    check_no_partial_overlap(c.op, "out", c.out, "residual_in", c.residual_in,
                             AliasPolicy::kSameViewAllowed);
    check_no_partial_overlap(c.op, "out", c.out, "residual_out", c.residual_out,
                             AliasPolicy::kNoOverlap);
    check_no_partial_overlap(c.op, "residual_out", c.residual_out, "input", c.input,
                             AliasPolicy::kSameViewAllowed);
    check_no_partial_overlap(c.op, "residual_out", c.residual_out, "residual_in", c.residual_in,
                             AliasPolicy::kSameViewAllowed);
    check_no_partial_overlap(c.op, "residual_out", c.residual_out, "weight", c.weight,
                             AliasPolicy::kNoOverlap);
  }
}

// A tensor argument as the backend sees it: the caller's view when its rows
// can be described, else a contiguous stand-in (gathered for inputs, copied
// back for outputs).
struct Operand {
  at::Tensor view;
  RowLayout rows;
  bool gathered = false;
};

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

}  // namespace

void run_row_norm(const NormCall& c) {
  check_call(c);
  const int64_t hidden = c.input.size(-1);
  const int64_t rows = c.input.numel() / hidden;
  if (rows == 0) return;

  const bool add = c.variant == NormVariant::kAddRms;
  bool any_gather = false;
  const Operand input = plan_operand(c, "input", c.input, false, &any_gather);
  const Operand out = plan_operand(c, "out", c.out, true, &any_gather);
  Operand residual_in, residual_out;
  if (add) {
    residual_in = plan_operand(c, "residual_in", c.residual_in, false, &any_gather);
    residual_out = plan_operand(c, "residual_out", c.residual_out, true, &any_gather);
  }
  if (any_gather) g_gather_calls.fetch_add(1, std::memory_order_relaxed);

  NormParams p{};
  p.input = input.view.data_ptr();
  p.out = out.view.data_ptr();
  p.input_rows = input.rows;
  p.out_rows = out.rows;
  if (add) {
    p.residual_in = residual_in.view.data_ptr();
    p.residual_out = residual_out.view.data_ptr();
    p.residual_in_rows = residual_in.rows;
    p.residual_out_rows = residual_out.rows;
  }
  p.weight = c.weight.data_ptr();
  p.weight_stride = hidden > 1 ? c.weight.stride(0) : 1;
  p.rows = rows;
  p.hidden = hidden;
  p.epsilon = static_cast<float>(c.epsilon);
  p.gemma = c.gemma ? 1 : 0;
  p.model_sensitive = static_cast<int32_t>(c.model_sensitive);
  p.dtype = dtype_of(c.input);
  p.variant = c.variant;

  if (c.input.is_cpu())
    norm_rows_cpu(p);
  else
    launch_row_norm_gpu(p, c.input);

  if (out.gathered) c.out.copy_(out.view);
  if (add && residual_out.gathered) c.residual_out.copy_(residual_out.view);
}

int64_t gather_fallback_count() { return g_gather_calls.load(); }
void reset_gather_fallback_count() { g_gather_calls.store(0); }
void set_strict_layout(bool strict) { g_strict.store(strict); }
bool strict_layout() { return g_strict.load(); }

}  // namespace aiter
