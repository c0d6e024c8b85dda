#include "norm_ops.h"

#include "norm_launcher.h"

namespace aiter {
namespace {

at::Tensor opt(const c10::optional<at::Tensor>& t) { return t.has_value() ? *t : at::Tensor(); }

// The quantising epilogue's arguments, shared by the quantised RMSNorm ops.
NormCall with_quant(NormCall call, const at::Tensor& yscale, const c10::optional<at::Tensor>& xscale,
                    const c10::optional<at::Tensor>& out_before_quant, int64_t group_size, bool shuffle_scale) {
  call.xscale = opt(xscale);
  call.yscale = yscale;
  call.unquant = opt(out_before_quant);
  call.group_size = group_size;
  call.shuffle_scale = shuffle_scale;
  return call;
}

// LayerNorm: weight, bias and x_bias are optional; the quantising variants
// take a per-row scale and an optional smooth xscale.
NormCall layer_call(const char* op, bool add, bool quant, const at::Tensor& out, const at::Tensor& input,
                    const at::Tensor& residual_in, const at::Tensor& residual_out, const at::Tensor& yscale,
                    const c10::optional<at::Tensor>& weight, const c10::optional<at::Tensor>& bias, double epsilon,
                    const c10::optional<at::Tensor>& xscale, const c10::optional<at::Tensor>& x_bias) {
  NormCall call{op, make_variant(add, quant, true), out, input, residual_in, residual_out, opt(weight),
                epsilon, false, 0};
  call.bias = opt(bias);
  call.x_bias = opt(x_bias);
  call.xscale = opt(xscale);
  call.yscale = yscale;
  return call;
}

// Q and K (e.g. slices of one packed QKV buffer), each with its own weight,
// normalised in one launch.
NormCall qk_call(const at::Tensor& q_out, const at::Tensor& q, const at::Tensor& q_weight, const at::Tensor& k_out,
                 const at::Tensor& k, const at::Tensor& k_weight, double epsilon) {
  NormCall call{"aiter.qk_rmsnorm", NormVariant::kQkRms, q_out, q, {}, {}, q_weight, epsilon, false, 0};
  call.names.input = "q";
  call.names.out = "q_out";
  call.names.weight = "q_weight";
  call.out_b = k_out;
  call.input_b = k;
  call.weight_b = k_weight;
  return call;
}

}  // namespace

void rmsnorm_op(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight, double epsilon, bool gemma_norm,
                int64_t use_model_sensitive_rmsnorm) {
  run_row_norm({"aiter.rmsnorm", NormVariant::kRms, out, input, {}, {}, weight, epsilon, gemma_norm,
                use_model_sensitive_rmsnorm});
}

void add_rmsnorm_op(at::Tensor& out, const at::Tensor& input, const at::Tensor& residual_in, at::Tensor& residual_out,
                    const at::Tensor& weight, double epsilon, bool gemma_norm, int64_t use_model_sensitive_rmsnorm) {
  run_row_norm({"aiter.add_rmsnorm", NormVariant::kAddRms, out, input, residual_in, residual_out, weight, epsilon,
                gemma_norm, use_model_sensitive_rmsnorm});
}

// In place: residual <- input + residual; input <- rmsnorm(residual) * w.
void fused_add_rmsnorm_inplace_op(at::Tensor& input, at::Tensor& residual, const at::Tensor& weight, double epsilon,
                                  bool gemma_norm, int64_t use_model_sensitive_rmsnorm) {
  run_row_norm({"aiter.fused_add_rms_norm_cu", NormVariant::kAddRms, input, input, residual, residual, weight,
                epsilon, gemma_norm, use_model_sensitive_rmsnorm});
}

// out, yscale <- quant(rmsnorm(input) * w [* xscale]); out_before_quant gets
// the value before quantising.
void rmsnorm_quant_op(at::Tensor& out, const at::Tensor& input, at::Tensor& yscale, const at::Tensor& weight,
                      double epsilon, const c10::optional<at::Tensor>& xscale,
                      const c10::optional<at::Tensor>& out_before_quant, int64_t group_size, bool shuffle_scale,
                      bool gemma_norm, int64_t use_model_sensitive_rmsnorm) {
  const NormCall call{"aiter.rmsnorm_quant", NormVariant::kRmsQuant, out, input, {}, {}, weight, epsilon,
                      gemma_norm, use_model_sensitive_rmsnorm};
  run_row_norm(with_quant(call, yscale, xscale, out_before_quant, group_size, shuffle_scale));
}

void add_rmsnorm_quant_op(at::Tensor& out, const at::Tensor& input, const at::Tensor& residual_in,
                          at::Tensor& residual_out, at::Tensor& yscale, const at::Tensor& weight, double epsilon,
                          const c10::optional<at::Tensor>& xscale, const c10::optional<at::Tensor>& out_before_quant,
                          int64_t group_size, bool shuffle_scale, bool gemma_norm,
                          int64_t use_model_sensitive_rmsnorm) {
  const NormCall call{"aiter.add_rmsnorm_quant", NormVariant::kAddRmsQuant, out, input, residual_in, residual_out,
                      weight, epsilon, gemma_norm, use_model_sensitive_rmsnorm};
  run_row_norm(with_quant(call, yscale, xscale, out_before_quant, group_size, shuffle_scale));
}

void layernorm_op(at::Tensor& out, const at::Tensor& input, const c10::optional<at::Tensor>& weight,
                  const c10::optional<at::Tensor>& bias, double epsilon, const c10::optional<at::Tensor>& x_bias) {
  run_row_norm(layer_call("aiter.layernorm", false, false, out, input, {}, {}, {}, weight, bias, epsilon, {}, x_bias));
}

void add_layernorm_op(at::Tensor& out, const at::Tensor& input, const at::Tensor& residual_in,
                      at::Tensor& residual_out, const c10::optional<at::Tensor>& weight,
                      const c10::optional<at::Tensor>& bias, double epsilon, const c10::optional<at::Tensor>& x_bias) {
  run_row_norm(layer_call("aiter.add_layernorm", true, false, out, input, residual_in, residual_out, {}, weight, bias,
                          epsilon, {}, x_bias));
}

void layernorm_quant_op(at::Tensor& out, const at::Tensor& input, at::Tensor& yscale,
                        const c10::optional<at::Tensor>& weight, const c10::optional<at::Tensor>& bias,
                        double epsilon, const c10::optional<at::Tensor>& xscale,
                        const c10::optional<at::Tensor>& x_bias) {
  run_row_norm(layer_call("aiter.layernorm_quant", false, true, out, input, {}, {}, yscale, weight, bias, epsilon, xscale,
                          x_bias));
}

void add_layernorm_quant_op(at::Tensor& out, const at::Tensor& input, const at::Tensor& residual_in,
                            at::Tensor& residual_out, at::Tensor& yscale, const c10::optional<at::Tensor>& weight,
                            const c10::optional<at::Tensor>& bias, double epsilon,
                            const c10::optional<at::Tensor>& xscale, const c10::optional<at::Tensor>& x_bias) {
  run_row_norm(layer_call("aiter.add_layernorm_quant", true, true, out, input, residual_in, residual_out, yscale, weight,
                          bias, epsilon, xscale, x_bias));
}

void qk_rmsnorm_op(at::Tensor& q_out, const at::Tensor& q, const at::Tensor& q_weight, at::Tensor& k_out,
                   const at::Tensor& k, const at::Tensor& k_weight, double epsilon) {
  run_row_norm(qk_call(q_out, q, q_weight, k_out, k, k_weight, epsilon));
}

void qk_rmsnorm_inplace_op(at::Tensor& q, at::Tensor& k, const at::Tensor& q_weight, const at::Tensor& k_weight,
                           double epsilon) {
  run_row_norm(qk_call(q, q, q_weight, k, k, k_weight, epsilon));
}

}  // namespace aiter
