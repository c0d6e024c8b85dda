#include "tensor_checks.h"

#include "message.h"

#include <c10/util/accumulate.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace aiter {

std::string describe(const at::Tensor& t) {
  if (!t.defined()) return "an undefined tensor";
  // Sparse CSR/CSC/BSR tensors throw from strides(): describe them by layout.
  if (t.layout() != at::kStrided)
    return message("shape ", t.sizes(), ", layout ", t.layout(), ", dtype ", t.scalar_type(),
                   ", device ", t.device());
  return message("shape ", t.sizes(), ", stride ", t.strides(), ", dtype ", t.scalar_type(),
                 ", device ", t.device());
}

void check_input_tensor(const char* op, const char* name, const at::Tensor& t) {
  TORCH_CHECK_TYPE(t.defined(), aiter::message(op, ": argument '", name, "' is an undefined tensor"));
  TORCH_CHECK_VALUE(t.layout() == at::kStrided, aiter::message(op, ": argument '", name,
                    "' must be a strided (dense) tensor, got layout ", t.layout(), " (",
                    describe(t), ")"));
  TORCH_CHECK_VALUE(t.is_cpu() || t.is_cuda(), aiter::message(op, ": argument '", name,
                    "' must be on the CPU or a CUDA/ROCm device (", describe(t), ")"));
  TORCH_CHECK_VALUE(t.dim() >= 1, aiter::message(op, ": argument '", name,
                    "' must have at least one dim (the normalised one), got a 0-d tensor (",
                    describe(t), ")"));
  const auto dt = t.scalar_type();
  TORCH_CHECK_TYPE(dt == at::kFloat || dt == at::kHalf || dt == at::kBFloat16, aiter::message(op,
                   ": argument '", name, "' must be float32, float16 or bfloat16 (",
                   describe(t), ")"));
  TORCH_CHECK_VALUE(t.size(-1) > 0, aiter::message(op, ": argument '", name,
                    "' has hidden size (last dim) 0; nothing to normalise (", describe(t), ")"));
  TORCH_CHECK_VALUE(t.dim() <= 64, aiter::message(op, ": argument '", name, "' has more than 64 dims (",
                    describe(t), ")"));
}

void check_rows_tensor(const char* op, const char* name, const at::Tensor& t,
                       const at::Tensor& like) {
  check_input_tensor(op, name, t);
  TORCH_CHECK_TYPE(t.scalar_type() == like.scalar_type(), aiter::message(op, ": argument '", name,
                   "' must have the input's dtype ", like.scalar_type(), " (", describe(t), ")"));
  TORCH_CHECK_VALUE(t.device() == like.device(), aiter::message(op, ": argument '", name,
                    "' must be on the input's device ", like.device(), " (", describe(t), ")"));
  TORCH_CHECK_VALUE(t.sizes() == like.sizes(), aiter::message(op, ": argument '", name,
                    "' must have the input's shape ", like.sizes(), " (", describe(t), ")"));
}

void check_param(const char* op, const char* name, const at::Tensor& t, const at::Tensor& input) {
  TORCH_CHECK_TYPE(t.defined(), aiter::message(op, ": argument '", name, "' is an undefined tensor"));
  TORCH_CHECK_VALUE(t.layout() == at::kStrided, aiter::message(op, ": argument '", name,
                    "' must be a strided (dense) tensor, got layout ", t.layout(), " (", describe(t), ")"));
  TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) == input.size(-1), aiter::message(op, ": argument '", name,
                    "' must be 1-d of length hidden = ", input.size(-1), " (", describe(t), ")"));
  TORCH_CHECK_TYPE(t.scalar_type() == input.scalar_type(), aiter::message(op, ": argument '", name,
                   "' must have the input's dtype ", input.scalar_type(), " (", describe(t), ")"));
  TORCH_CHECK_VALUE(t.device() == input.device(), aiter::message(op, ": argument '", name,
                    "' must be on the input's device ", input.device(), " (", describe(t), ")"));
  TORCH_CHECK_VALUE(t.size(0) <= 1 || t.stride(0) >= 0, aiter::message(op, ": argument '", name,
                    "' has a negative stride (", describe(t), ")"));
}

void check_weight(const char* op, const at::Tensor& weight, const at::Tensor& input) {
  check_param(op, "weight", weight, input);
}

void check_quant_out(const char* op, const char* name, const at::Tensor& t, const at::Tensor& input) {
  TORCH_CHECK_TYPE(t.defined(), aiter::message(op, ": argument '", name, "' is an undefined tensor"));
  TORCH_CHECK_VALUE(t.layout() == at::kStrided, aiter::message(op, ": argument '", name,
                    "' must be a strided (dense) tensor, got layout ", t.layout(), " (", describe(t), ")"));
  const auto dt = t.scalar_type();
  TORCH_CHECK_TYPE(dt == at::kChar || dt == at::kFloat8_e4m3fn || dt == at::kFloat8_e4m3fnuz,
                   aiter::message(op, ": argument '", name,
                   "' is the quantised output and must be int8, float8_e4m3fn or float8_e4m3fnuz (",
                   describe(t), ")"));
  TORCH_CHECK_VALUE(t.device() == input.device(), aiter::message(op, ": argument '", name,
                    "' must be on the input's device ", input.device(), " (", describe(t), ")"));
  TORCH_CHECK_VALUE(t.sizes() == input.sizes(), aiter::message(op, ": argument '", name,
                    "' must have the input's shape ", input.sizes(), " (", describe(t), ")"));
}

void check_xscale(const char* op, const at::Tensor& t, const at::Tensor& input) {
  TORCH_CHECK_TYPE(t.defined(), aiter::message(op, ": argument 'xscale' is an undefined tensor"));
  TORCH_CHECK_VALUE(t.layout() == at::kStrided, aiter::message(op,
                    ": argument 'xscale' must be a strided (dense) tensor (", describe(t), ")"));
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat, aiter::message(op,
                   ": argument 'xscale' must be float32 (", describe(t), ")"));
  TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) == input.size(-1), aiter::message(op,
                    ": argument 'xscale' must be 1-d of length hidden = ", input.size(-1), " (",
                    describe(t), ")"));
  TORCH_CHECK_VALUE(t.device() == input.device(), aiter::message(op,
                    ": argument 'xscale' must be on the input's device ", input.device(), " (",
                    describe(t), ")"));
  TORCH_CHECK_VALUE(t.size(0) <= 1 || t.stride(0) >= 0, aiter::message(op,
                    ": argument 'xscale' has a negative stride (", describe(t), ")"));
}

bool check_and_plan_scale(const char* op, const char* name, const at::Tensor& t, const at::Tensor& input,
                          int64_t groups, bool shuffled, ScaleLayout* layout) {
  TORCH_CHECK_TYPE(t.defined(), aiter::message(op, ": argument '", name, "' is an undefined tensor"));
  TORCH_CHECK_VALUE(t.layout() == at::kStrided, aiter::message(op, ": argument '", name,
                    "' must be a strided (dense) tensor (", describe(t), ")"));
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat, aiter::message(op, ": argument '", name,
                   "' (the quantisation scale) must be float32 (", describe(t), ")"));
  TORCH_CHECK_VALUE(t.device() == input.device(), aiter::message(op, ": argument '", name,
                    "' must be on the input's device ", input.device(), " (", describe(t), ")"));
  const std::vector<int64_t> lead(input.sizes().begin(), input.sizes().end() - 1);
  const int64_t rows = c10::multiply_integers(lead);
  std::vector<int64_t> lead_g = lead;
  lead_g.push_back(groups);
  const std::vector<int64_t> flat_g{rows, groups};
  const std::vector<int64_t> flat{rows};
  const auto shape = t.sizes();
  bool group_dim = false;
  if (shape == c10::IntArrayRef(lead_g) || shape == c10::IntArrayRef(flat_g)) {
    group_dim = true;
  } else {
    TORCH_CHECK_VALUE(groups == 1 && (shape == c10::IntArrayRef(lead) || shape == c10::IntArrayRef(flat)),
                      aiter::message(op, ": argument '", name, "' must have shape ", c10::IntArrayRef(lead_g),
                      lead_g == flat_g ? std::string() : aiter::message(" or ", c10::IntArrayRef(flat_g)),
                      groups == 1 ? " (or without the last dim of 1)" : "",
                      " for ", groups == 1 ? "one scale per row" : "one scale per group of columns", " (",
                      describe(t), ")"));
  }
  if (shuffled && groups > 1) {
    TORCH_CHECK_VALUE(t.is_contiguous(), aiter::message(op, ": argument '", name,
                      "' must be contiguous with shuffle_scale=True (group-major: group g of row r "
                      "at g * rows + r) (", describe(t), ")"));
    layout->rows = RowLayout{};
    layout->rows.ndim = rows > 1 ? 1 : 0;
    layout->rows.sizes[kMaxRowDims - 1] = rows > 1 ? rows : 1;
    layout->rows.strides[kMaxRowDims - 1] = rows > 1 ? 1 : 0;
    layout->group_stride = rows;
    return true;
  }
  const int64_t row_dims = group_dim ? t.dim() - 1 : t.dim();
  int64_t counted = 0;
  const bool fits = collapse_row_dims(static_cast<int>(row_dims), t.sizes().data(), t.strides().data(),
                                      &layout->rows, &counted);
  layout->group_stride = group_dim ? t.stride(-1) : 0;
  return fits;
}

void check_epsilon(const char* op, double epsilon) {
  TORCH_CHECK_VALUE(std::isfinite(epsilon) && epsilon >= 0.0, aiter::message(op,
                    ": argument 'epsilon' must be finite and >= 0, got ", epsilon));
}

void check_no_internal_overlap(const char* op, const char* name, const at::Tensor& t) {
  // Sorted by stride, each dim must step past everything the smaller dims
  // span: then no two indices share an address. Views this cannot prove
  // disjoint are refused.
  if (t.numel() == 0) return;
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size)
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.size(d) > 1) dims.emplace_back(t.stride(d), t.size(d));
  std::sort(dims.begin(), dims.end());
  int64_t span = 1;  // elements covered by the dims so far
  for (const auto& [stride, size] : dims) {
    TORCH_CHECK_VALUE(stride >= span, aiter::message(op, ": argument '", name,
                      "' is an output whose elements overlap (a stride of 0, or rows that "
                      "alias), so results would be written twice (",
                      describe(t), ")"));
    span = stride * (size - 1) + span;
  }
}

namespace {

// The bytes a view touches, as rows of `width` bytes `pitch` apart, when it
// can be put that way (rank <= 2 after collapsing every dim, innermost dense).
struct ByteRows {
  int64_t begin, rows, width, pitch;
};

bool as_byte_rows(const at::Tensor& t, ByteRows* r) {
  const int64_t elem = t.element_size();
  std::vector<std::pair<int64_t, int64_t>> dims;  // (size, stride), outer first
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.size(d) == 1) continue;
    if (!dims.empty() && dims.back().second == t.stride(d) * t.size(d)) {
      dims.back().first *= t.size(d);
      dims.back().second = t.stride(d);
    } else {
      dims.emplace_back(t.size(d), t.stride(d));
    }
  }
  r->begin = reinterpret_cast<int64_t>(t.data_ptr());
  if (dims.empty()) {
    *r = {r->begin, 1, elem, elem};
    return true;
  }
  if (dims.back().second != 1 || dims.size() > 2) return false;
  r->width = dims.back().first * elem;
  r->rows = dims.size() == 2 ? dims.front().first : 1;
  r->pitch = dims.size() == 2 ? dims.front().second * elem : r->width;
  return r->pitch >= r->width;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Exact test for two sets of equally pitched byte rows.
bool byte_rows_overlap(const ByteRows& a, const ByteRows& b, int64_t pitch) {
  const int64_t d = b.begin - a.begin;
  // Rows i of a and j of b meet iff -b.width < d + (j - i) * pitch < a.width.
  int64_t k_lo = floor_div(-b.width - d, pitch) + 1;
  int64_t k_hi = -floor_div(-(a.width - d), pitch) - 1;  // ceil(...) - 1
  k_lo = std::max(k_lo, -(a.rows - 1));
  k_hi = std::min(k_hi, b.rows - 1);
  return k_lo <= k_hi;
}

std::pair<int64_t, int64_t> byte_extent(const at::Tensor& t) {
  int64_t lo = 0, hi = 0;
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t reach = (t.size(d) - 1) * t.stride(d);
    (reach < 0 ? lo : hi) += reach;
  }
  const int64_t base = reinterpret_cast<int64_t>(t.data_ptr());
  return {base + lo * t.element_size(), base + (hi + 1) * t.element_size()};
}

bool same_view(const at::Tensor& a, const at::Tensor& b) {
  if (a.data_ptr() != b.data_ptr() || a.sizes() != b.sizes() ||
      a.scalar_type() != b.scalar_type())
    return false;
  for (int64_t d = 0; d < a.dim(); ++d)
    if (a.size(d) > 1 && a.stride(d) != b.stride(d)) return false;
  return true;
}

}  // namespace

void check_no_partial_overlap(const char* op, const char* out_name, const at::Tensor& out,
                              const char* other_name, const at::Tensor& other,
                              AliasPolicy policy) {
  if (out.numel() == 0 || other.numel() == 0 || out.device() != other.device()) return;
  const auto [a_lo, a_hi] = byte_extent(out);
  const auto [b_lo, b_hi] = byte_extent(other);
  if (a_hi <= b_lo || b_hi <= a_lo) return;  // disjoint address ranges
  if (same_view(out, other)) {
    TORCH_CHECK_VALUE(policy == AliasPolicy::kSameViewAllowed, aiter::message(op, ": argument '", out_name,
                      "' must not be the same memory as '", other_name, "' (", describe(out),
                      ")"));
    return;
  }
  ByteRows a, b;
  if (as_byte_rows(out, &a) && as_byte_rows(other, &b)) {
    // Interleaved views of one buffer (Q and K slices of a packed QKV) share
    // a pitch; a single row takes the other view's pitch.
    const int64_t pitch = a.rows > 1 ? a.pitch : b.pitch;
    const bool comparable = (a.rows == 1 || b.rows == 1 || a.pitch == b.pitch) && pitch > 0 &&
                            a.width <= pitch && b.width <= pitch;
    if (comparable && !byte_rows_overlap(a, b, pitch)) return;
  }
  TORCH_CHECK_VALUE(false, aiter::message(op, ": argument '", out_name, "' (", describe(out),
                    ") partly overlaps argument '", other_name, "' (", describe(other),
                    "); in-place use must pass exactly the same view"));
}

bool plan_row_layout(const at::Tensor& t, RowLayout* layout) {
  const int64_t lead = t.dim() - 1;
  int64_t rows = 0;
  const bool fits = collapse_row_dims(static_cast<int>(lead), t.sizes().data(),
                                      t.strides().data(), layout, &rows);
  const bool last_dense = t.size(-1) == 1 || t.stride(-1) == 1;
  return fits && last_dense;
}

}  // namespace aiter
