// The registered ops' implementations: each turns its schema's arguments
// into one launcher call. The torch.library registration (csrc/bindings.cpp)
// and the eager entry (csrc/eager_bindings.cpp) both call these, so each op's
// arguments are mapped to a NormCall in exactly one place.
#pragma once
#include <torch/types.h>

namespace aiter {

void rmsnorm_op(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight, double epsilon, bool gemma_norm,
                int64_t use_model_sensitive_rmsnorm);
void add_rmsnorm_op(at::Tensor& out, const at::Tensor& input, const at::Tensor& residual_in, at::Tensor& residual_out,
                    const at::Tensor& weight, double epsilon, bool gemma_norm, int64_t use_model_sensitive_rmsnorm);
void fused_add_rmsnorm_inplace_op(at::Tensor& input, at::Tensor& residual, const at::Tensor& weight, double epsilon,
                                  bool gemma_norm, int64_t use_model_sensitive_rmsnorm);
void rmsnorm_quant_op(at::Tensor& out, const at::Tensor& input, at::Tensor& yscale, const at::Tensor& weight,
                      double epsilon, const c10::optional<at::Tensor>& xscale,
                      const c10::optional<at::Tensor>& out_before_quant, int64_t group_size, bool shuffle_scale,
                      bool gemma_norm, int64_t use_model_sensitive_rmsnorm);
void add_rmsnorm_quant_op(at::Tensor& out, const at::Tensor& input, const at::Tensor& residual_in,
                          at::Tensor& residual_out, at::Tensor& yscale, const at::Tensor& weight, double epsilon,
                          const c10::optional<at::Tensor>& xscale, const c10::optional<at::Tensor>& out_before_quant,
                          int64_t group_size, bool shuffle_scale, bool gemma_norm,
                          int64_t use_model_sensitive_rmsnorm);
void layernorm_op(at::Tensor& out, const at::Tensor& input, const c10::optional<at::Tensor>& weight,
                  const c10::optional<at::Tensor>& bias, double epsilon, const c10::optional<at::Tensor>& x_bias);
void add_layernorm_op(at::Tensor& out, const at::Tensor& input, const at::Tensor& residual_in,
                      at::Tensor& residual_out, const c10::optional<at::Tensor>& weight,
                      const c10::optional<at::Tensor>& bias, double epsilon, const c10::optional<at::Tensor>& x_bias);
void layernorm_quant_op(at::Tensor& out, const at::Tensor& input, at::Tensor& yscale,
                        const c10::optional<at::Tensor>& weight, const c10::optional<at::Tensor>& bias,
                        double epsilon, const c10::optional<at::Tensor>& xscale,
                        const c10::optional<at::Tensor>& x_bias);
void add_layernorm_quant_op(at::Tensor& out, const at::Tensor& input, const at::Tensor& residual_in,
                            at::Tensor& residual_out, at::Tensor& yscale, const c10::optional<at::Tensor>& weight,
                            const c10::optional<at::Tensor>& bias, double epsilon,
                            const c10::optional<at::Tensor>& xscale, const c10::optional<at::Tensor>& x_bias);
void qk_rmsnorm_op(at::Tensor& q_out, const at::Tensor& q, const at::Tensor& q_weight, at::Tensor& k_out,
                   const at::Tensor& k, const at::Tensor& k_weight, double epsilon);
void qk_rmsnorm_inplace_op(at::Tensor& q, at::Tensor& k, const at::Tensor& q_weight, const at::Tensor& k_weight,
                           double epsilon);
// upstream's fused_qk_rmsnorm family (host/fused_qk_op.cpp): Q [+ q_residual]
// normalised (and quantised when q_out_scale is given), K normalised.
void fused_qk_rmsnorm_op(const c10::optional<at::Tensor>& q_out_quantized,
                         const c10::optional<at::Tensor>& q_out_scale, const at::Tensor& q,
                         const at::Tensor& q_weight, double q_epsilon,
                         const c10::optional<at::Tensor>& q_out_unquantized,
                         const c10::optional<at::Tensor>& k_out, const c10::optional<at::Tensor>& q_res_out,
                         const c10::optional<at::Tensor>& k, const c10::optional<at::Tensor>& k_weight,
                         double k_epsilon, const c10::optional<at::Tensor>& q_residual, int64_t group_size,
                         bool shuffle_scale, bool gemma_norm);

}  // namespace aiter

// Every registered op as X(schema name, implementation), for the
// registration and the eager entry's table.
#define AITER_NORM_OPS(X)                                \
  X(rmsnorm, rmsnorm_op)                                 \
  X(add_rmsnorm, add_rmsnorm_op)                         \
  X(fused_add_rmsnorm_, fused_add_rmsnorm_inplace_op)    \
  X(rmsnorm_quant, rmsnorm_quant_op)                     \
  X(add_rmsnorm_quant, add_rmsnorm_quant_op)             \
  X(layernorm, layernorm_op)                             \
  X(add_layernorm, add_layernorm_op)                     \
  X(layernorm_quant, layernorm_quant_op)                 \
  X(add_layernorm_quant, add_layernorm_quant_op)         \
  X(qk_rmsnorm, qk_rmsnorm_op)                           \
  X(qk_rmsnorm_, qk_rmsnorm_inplace_op)                  \
  X(fused_qk_rmsnorm, fused_qk_rmsnorm_op)
