// The launcher every row-norm op goes through: checks, layout planning, the
// counted gather fallback, and dispatch to the CPU or GPU backend.
#pragma once
#include <torch/types.h>

#include "../include/norm_params.h"

namespace aiter {

struct NormCall {
  const char* op;  // the public name, for error messages
  NormVariant variant;
  at::Tensor out, input, residual_in, residual_out, weight;  // residuals: adding variants only
  double epsilon;
  bool gemma;
  int64_t model_sensitive;
  // LayerNorm variants: weight, bias and x_bias are optional (undefined).
  at::Tensor bias, x_bias;
  // Quantising variants: yscale (written), optional xscale (smooth quant)
  // and unquant (out_before_quant, written).
  at::Tensor xscale, yscale, unquant;
  int64_t group_size = 0;
  bool shuffle_scale = false;
  // A second job in the same launch (fused Q/K norm; plain RMSNorm only).
  at::Tensor out_b, input_b, weight_b;
};

// A tensor argument as the backend sees it: the caller's view when its rows
// can be described, else a contiguous stand-in (gathered for inputs, copied
// back for outputs).
struct Operand {
  at::Tensor view;
  RowLayout rows{};
  bool gathered = false;
};

// Checks a call and describes it to a backend (the gather, if any, is done).
struct PlannedCall {
  bool empty = false;  // zero rows: nothing to launch
  bool gathered = false;
  Operand input, out, residual_in, residual_out, unquant, input_b, out_b;
  at::Tensor yscale;  // what the kernel writes the scales to (a buffer when gathered)
  bool yscale_gathered = false;
  NormParams params{};
};
PlannedCall plan_call(const NormCall& call);

void run_row_norm(const NormCall& call);

// Calls that had to gather a view into a contiguous buffer (last-dim stride
// != 1, or too many row dims). Strict mode turns such a call into an error.
int64_t gather_fallback_count();
void reset_gather_fallback_count();
void set_strict_layout(bool strict);
bool strict_layout();

}  // namespace aiter
