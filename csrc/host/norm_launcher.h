// The launcher every row-norm op goes through: checks, layout planning, the
// counted gather fallback, and dispatch to the CPU or GPU backend.
#pragma once
#include <torch/types.h>

#include <vector>

#include "../include/norm_params.h"

namespace aiter {

// The names error messages give a call's tensor arguments: the public op's
// own (the fused Q/K ops call their input 'q', a second call's 'k').
struct ArgNames {
  const char* input = "input";
  const char* out = "out";
  const char* residual_in = "residual_in";
  const char* residual_out = "residual_out";
  const char* weight = "weight";
  const char* yscale = "yscale";
  const char* unquant = "out_before_quant";
  const char* input_b = "k";
  const char* out_b = "k_out";
  const char* weight_b = "k_weight";
};

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
  ArgNames names{};
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
// Launches a planned call and copies gathered outputs back into the caller's.
void run_planned(const NormCall& call, const PlannedCall& planned);

void run_row_norm(const NormCall& call);

// For ops made of several launches: checks and plans every call before any
// runs (so a bad argument of the last leaves every output untouched), and
// refuses a tensor one call writes that overlaps any tensor of another call
// or an `extra_outputs` entry (outputs the op writes itself afterwards).
struct NamedTensor {
  const char* name;
  at::Tensor tensor;
};
std::vector<PlannedCall> plan_calls(c10::ArrayRef<NormCall> calls, c10::ArrayRef<NamedTensor> extra_outputs = {});

// Calls that had to gather a view into a contiguous buffer (last-dim stride
// != 1, or too many row dims). Strict mode turns such a call into an error.
int64_t gather_fallback_count();
void reset_gather_fallback_count();
void set_strict_layout(bool strict);
bool strict_layout();

}  // namespace aiter
