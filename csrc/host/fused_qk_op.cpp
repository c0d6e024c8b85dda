// upstream aiter's fused Q/K RMSNorm (fused_qk_rmsnorm and its per-token and
// per-group quantising forms) as launches of the existing kernels:
//
// - Q and K with one head size and epsilon, Q neither quantised nor given a
//   residual: one launch of the fused Q/K kernel (qk_rmsnorm's);
// - otherwise Q's launch (RMSNorm, with the residual add and/or the quant
//   epilogue as asked) and K's plain RMSNorm launch, one after the other.
//
// Every argument of every launch is checked before the first one runs.
#include "norm_ops.h"

#include "message.h"
#include "norm_launcher.h"
#include "tensor_checks.h"

namespace aiter {
namespace {

constexpr const char* kOp = "aiter.fused_qk_rmsnorm";

at::Tensor opt(const c10::optional<at::Tensor>& t) { return t.has_value() ? *t : at::Tensor(); }

void require(bool given, const char* name, const char* why) {
  TORCH_CHECK_VALUE(given, message(kOp, ": argument '", name, "' is None; it must be given ", why));
}

bool same_head_size(const at::Tensor& q, const at::Tensor& k) {
  return q.defined() && k.defined() && q.dim() >= 1 && k.dim() >= 1 && q.size(-1) == k.size(-1);
}

}  // namespace

void fused_qk_rmsnorm_op(const c10::optional<at::Tensor>& q_out_quantized,
                         const c10::optional<at::Tensor>& q_out_scale, const at::Tensor& q,
                         const at::Tensor& q_weight, double q_epsilon,
                         const c10::optional<at::Tensor>& q_out_unquantized,
                         const c10::optional<at::Tensor>& k_out, const c10::optional<at::Tensor>& q_res_out,
                         const c10::optional<at::Tensor>& k, const c10::optional<at::Tensor>& k_weight,
                         double k_epsilon, const c10::optional<at::Tensor>& q_residual, int64_t group_size,
                         bool shuffle_scale, bool gemma_norm) {
  const bool quant = q_out_scale.has_value();
  const bool add = q_residual.has_value();
  const bool with_k = k.has_value();
  if (quant)
    require(q_out_quantized.has_value(), "q_out_quantized", "with 'q_out_scale' (quantising Q)");
  else
    TORCH_CHECK_VALUE(q_out_quantized.has_value() || q_out_unquantized.has_value(),
                      message(kOp, ": without 'q_out_scale' (no quantisation) the normalised Q goes to "
                              "'q_out_quantized' or 'q_out_unquantized'; both are None"));
  if (add) require(q_res_out.has_value(), "q_res_out", "with 'q_residual' (it receives q + q_residual)");
  if (with_k) {
    require(k_weight.has_value(), "k_weight", "with 'k'");
    require(k_out.has_value(), "k_out", "with 'k'");
  }

  // Q's output: the quantised one, else the unquantised one named first. In
  // no-quant mode with both given, the second gets a copy of the first.
  const bool to_quantized = quant || q_out_quantized.has_value();
  const at::Tensor q_out = to_quantized ? *q_out_quantized : *q_out_unquantized;
  const at::Tensor mirror = !quant && q_out_quantized.has_value() ? opt(q_out_unquantized) : at::Tensor();

  NormCall q_call{kOp, make_variant(add, quant, false), q_out, q, opt(q_residual), add ? opt(q_res_out) : at::Tensor(),
                  q_weight, q_epsilon, gemma_norm, 0};
  q_call.names.input = "q";
  q_call.names.out = to_quantized ? "q_out_quantized" : "q_out_unquantized";
  q_call.names.weight = "q_weight";
  q_call.names.residual_in = "q_residual";
  q_call.names.residual_out = "q_res_out";
  q_call.names.yscale = "q_out_scale";
  q_call.names.unquant = "q_out_unquantized";
  if (quant) {
    q_call.yscale = *q_out_scale;
    q_call.unquant = opt(q_out_unquantized);
    q_call.group_size = group_size;
    q_call.shuffle_scale = shuffle_scale;
  }

  const bool one_launch = with_k && !quant && !add && !mirror.defined() && same_head_size(q, *k) &&
                          q_epsilon == k_epsilon && q.scalar_type() == k->scalar_type();
  if (one_launch) {
    q_call.variant = NormVariant::kQkRms;
    q_call.input_b = *k;
    q_call.out_b = *k_out;
    q_call.weight_b = *k_weight;
    run_row_norm(q_call);
    return;
  }

  std::vector<NormCall> calls{q_call};
  if (with_k) {
    NormCall k_call{kOp, NormVariant::kRms, *k_out, *k, {}, {}, *k_weight, k_epsilon, gemma_norm, 0};
    k_call.names.input = "k";
    k_call.names.out = "k_out";
    k_call.names.weight = "k_weight";
    calls.push_back(k_call);
  }
  std::vector<NamedTensor> extra;
  if (mirror.defined()) {
    check_rows_tensor(kOp, "q_out_unquantized", mirror, q);
    extra.push_back({"q_out_unquantized", mirror});
  }
  const std::vector<PlannedCall> planned = plan_calls(calls, extra);
  if (with_k) {
    // Each launch checked its own tensors; Q and K must also agree.
    TORCH_CHECK_TYPE(k->scalar_type() == q.scalar_type(), message(kOp, ": argument 'k' must have the dtype of 'q', ",
                     q.scalar_type(), " (", describe(*k), ")"));
    TORCH_CHECK_VALUE(k->device() == q.device(), message(kOp, ": argument 'k' must be on the device of 'q', ",
                      q.device(), " (", describe(*k), ")"));
  }
  for (size_t i = 0; i < calls.size(); ++i) run_planned(calls[i], planned[i]);
  if (mirror.defined()) mirror.copy_(q_out);
}

}  // namespace aiter
