// Reading one eager call's Python arguments by the registered op's schema:
// positions and names come from the dispatcher's schema, types from the
// implementation's C++ parameters. A wrong type is a TypeError naming the op
// and the argument; scalars accept what the dispatcher's own conversion
// (pybind11's casters) accepts, so both routes take the same values.
#pragma once
#include <torch/extension.h>

#include <string>
#include <vector>

namespace aiter {

// Positional arguments as CPython's vectorcall passes them (borrowed).
struct PyArgs {
  PyObject* const* items;
  size_t size;
};

// What the eager entry needs from a registered op's schema.
struct EagerSchema {
  std::vector<std::string> names;  // the arguments, in schema order
  std::vector<bool> written;       // annotated (a!): the op writes it
  static EagerSchema of(const char* qualified_name);  // e.g. "aiter::rmsnorm"
};

class EagerArgs {
 public:
  static void init();  // once, when the module loads

  // With new_out the leading `out` is not passed: the entry allocates it.
  EagerArgs(const char* op, const EagerSchema& schema, bool new_out, PyArgs args);

  // The argument at schema position pos, as T: at::Tensor (None refused;
  // undefined for the allocated `out`), c10::optional<at::Tensor>, double,
  // int64_t or bool.
  template <typename T>
  T get(size_t pos);

  // A tensor argument was a subclass overriding __torch_function__.
  bool overridden() const { return overridden_; }
  // The first tensor argument read is on the CPU (rows computed on the host).
  bool on_cpu() const { return on_cpu_ == 1; }

 private:
  at::Tensor tensor(size_t pos, bool optional);
  template <typename T>
  T scalar(size_t pos, const char* expected);
  PyObject* item(size_t pos) const { return args_.items[pos - first_]; }
  [[noreturn]] void refuse(size_t pos, const char* expected) const;

  const char* op_;
  const EagerSchema& schema_;
  size_t first_;  // schema position of args[0]
  PyArgs args_;
  bool overridden_ = false;
  int on_cpu_ = -1;  // unknown until a tensor is read
};

template <>
at::Tensor EagerArgs::get<at::Tensor>(size_t pos);
template <>
c10::optional<at::Tensor> EagerArgs::get<c10::optional<at::Tensor>>(size_t pos);
template <>
double EagerArgs::get<double>(size_t pos);
template <>
int64_t EagerArgs::get<int64_t>(size_t pos);
template <>
bool EagerArgs::get<bool>(size_t pos);

}  // namespace aiter
