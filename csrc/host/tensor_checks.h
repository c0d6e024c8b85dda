// Argument checks shared by every op's launcher. Each failure raises a Python
// exception (ValueError / TypeError / RuntimeError through c10) whose message
// names the op, the argument and its shape, stride, dtype and device. All
// checks run before anything is written.
#pragma once
#include <torch/types.h>

#include <string>

#include "../include/row_layout.h"

namespace aiter {

std::string describe(const at::Tensor& t);

// A tensor of rows: defined, strided, on `device`, of `dtype`, with the shape
// `shape` (the input's), and a last dim of `hidden` > 0.
void check_rows_tensor(const char* op, const char* name, const at::Tensor& t,
                       const at::Tensor& like);
void check_input_tensor(const char* op, const char* name, const at::Tensor& t);
void check_weight(const char* op, const at::Tensor& weight, const at::Tensor& input);
// A per-column parameter (weight, bias, x_bias): 1-d of length hidden, the
// input's dtype and device.
void check_param(const char* op, const char* name, const at::Tensor& t, const at::Tensor& input);
// A quantised output: int8, float8_e4m3fn or float8_e4m3fnuz, the input's
// shape and device.
void check_quant_out(const char* op, const char* name, const at::Tensor& t, const at::Tensor& input);
// The smooth-quant per-column scale: fp32, 1-d of length hidden.
void check_xscale(const char* op, const at::Tensor& t, const at::Tensor& input);

// How a scale tensor is addressed: row r, group g at
// row_offset(rows, r) + g * group_stride. False when its row dims cannot be
// described (more than kMaxRowDims after collapsing).
struct ScaleLayout {
  RowLayout rows{};
  int64_t group_stride = 0;
};
// Checks the per-row / per-group scale: fp32, on the input's device, of shape
// input.shape[:-1] (+ (groups,)) or upstream's flattened (rows,) / (rows, 1) /
// (rows, groups); shuffled group scales must be contiguous (group-major:
// group g, row r at g * rows + r). Returns whether `layout` describes it.
bool check_and_plan_scale(const char* op, const char* name, const at::Tensor& t, const at::Tensor& input,
                          int64_t groups, bool shuffled, ScaleLayout* layout);
void check_epsilon(const char* op, double epsilon);

// Outputs must not write one element twice (stride 0, overlapping rows).
void check_no_internal_overlap(const char* op, const char* name, const at::Tensor& t);

// An output may be exactly the same view as an input (in place) but must not
// partly overlap it; two outputs must not overlap at all.
enum class AliasPolicy { kSameViewAllowed, kNoOverlap };
void check_no_partial_overlap(const char* op, const char* out_name, const at::Tensor& out,
                              const char* other_name, const at::Tensor& other,
                              AliasPolicy policy);

// The row layout of a view (leading dims collapsed). Returns false when the
// view cannot be described without a copy: last-dim stride != 1, or more than
// kMaxRowDims row dims after collapsing.
bool plan_row_layout(const at::Tensor& t, RowLayout* layout);

}  // namespace aiter
