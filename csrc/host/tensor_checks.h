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
