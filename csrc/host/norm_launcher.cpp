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

PlannedCall plan_call(const NormCall& c) {
  check_call(c);
  PlannedCall pc;
  const int64_t hidden = c.input.size(-1);
  const int64_t rows = c.input.numel() / hidden;
  pc.empty = rows == 0;
  if (pc.empty) return pc;

  const bool add = c.variant == NormVariant::kAddRms;
  bool any_gather = false;
  pc.input = plan_operand(c, "input", c.input, false, &any_gather);
  pc.out = plan_operand(c, "out", c.out, true, &any_gather);
  if (add) {
    pc.residual_in = plan_operand(c, "residual_in", c.residual_in, false, &any_gather);
    pc.residual_out = plan_operand(c, "residual_out", c.residual_out, true, &any_gather);
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
  p.weight = c.weight.data_ptr();
  p.weight_stride = hidden > 1 ? c.weight.stride(0) : 1;
  p.rows = rows;
  p.hidden = hidden;
  p.epsilon = static_cast<float>(c.epsilon);
  p.gemma = c.gemma ? 1 : 0;
  p.model_sensitive = static_cast<int32_t>(c.model_sensitive);
  p.dtype = dtype_of(c.input);
  p.variant = c.variant;
  return pc;
}

void run_row_norm(const NormCall& c) {
  const PlannedCall pc = plan_call(c);
  if (pc.empty) return;
  if (pc.gathered) g_gather_calls.fetch_add(1, std::memory_order_relaxed);

  if (c.input.is_cpu())
    norm_rows_cpu(pc.params);
  else
    launch_row_norm_gpu(pc.params, c.input);

  if (pc.out.gathered) c.out.copy_(pc.out.view);
  if (pc.residual_out.gathered) c.residual_out.copy_(pc.residual_out.view);
}

int64_t gather_fallback_count() { return g_gather_calls.load(); }
void reset_gather_fallback_count() { g_gather_calls.store(0); }
void set_strict_layout(bool strict) { g_strict.store(strict); }
bool strict_layout() { return g_strict.load(); }

}  // namespace aiter
