#include "eager_args.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/python_variable.h>

#include "host/message.h"

namespace aiter {
namespace {

// torch._C._disabled_torch_function_impl: what nn.Parameter sets as its
// __torch_function__ (set when the module loads).
PyObject* g_disabled_torch_function = nullptr;

// A tensor subclass with its own __torch_function__ (torch's own helper for
// this is not exported to extensions).
bool overrides_torch_function(PyObject* tensor) {
  static PyObject* const name = PyUnicode_InternFromString("__torch_function__");
  PyObject* f = PyObject_GetAttr(reinterpret_cast<PyObject*>(Py_TYPE(tensor)), name);
  if (f == nullptr) {
    PyErr_Clear();
    return false;
  }
  const bool own = f != g_disabled_torch_function;
  Py_DECREF(f);
  return own;
}

}  // namespace

void EagerArgs::init() {
  g_disabled_torch_function =
      py::object(py::module_::import("torch._C").attr("_disabled_torch_function_impl")).release().ptr();
}

EagerSchema EagerSchema::of(const char* qualified_name) {
  const c10::FunctionSchema& s = c10::Dispatcher::singleton().findSchemaOrThrow(qualified_name, "").schema();
  EagerSchema r;
  for (const c10::Argument& a : s.arguments()) {
    r.names.push_back(a.name());
    r.written.push_back(a.alias_info() != nullptr && a.alias_info()->isWrite());
  }
  return r;
}

EagerArgs::EagerArgs(const char* op, const EagerSchema& schema, bool new_out, PyArgs args)
    : op_(op), schema_(schema), first_(new_out ? 1 : 0), args_(args) {
  TORCH_CHECK_TYPE(args.size + first_ == schema.names.size(),
                   message(op, ": expected ", schema.names.size() - first_, " arguments, got ", args.size));
}

void EagerArgs::refuse(size_t pos, const char* expected) const {
  TORCH_CHECK_TYPE(false, message(op_, ": argument '", schema_.names[pos], "' must be ", expected, ", got ",
                                  Py_TYPE(item(pos))->tp_name));
}

at::Tensor EagerArgs::tensor(size_t pos, bool optional) {
  if (pos < first_) return at::Tensor();  // the entry allocates `out`
  PyObject* h = item(pos);
  if (THPVariable_Check(h)) {
    // Subclasses with their own __torch_function__ must see the op (an
    // exact Tensor or an nn.Parameter costs one type check here).
    if (!THPVariable_CheckExact(h) && overrides_torch_function(h)) overridden_ = true;
    const at::Tensor& t = THPVariable_Unpack(h);
    if (on_cpu_ < 0) on_cpu_ = t.is_cpu() ? 1 : 0;
    return t;
  }
  if (h == Py_None) {
    if (optional) return at::Tensor();
    TORCH_CHECK_TYPE(false, message(op_, ": argument '", schema_.names[pos],
                                    "' is None (an undefined tensor); expected a Tensor"));
  }
  refuse(pos, optional ? "a Tensor or None" : "a Tensor");
}

template <typename T>
T EagerArgs::scalar(size_t pos, const char* expected) {
  py::detail::make_caster<T> caster;
  if (!caster.load(item(pos), /*convert=*/true)) refuse(pos, expected);
  return py::detail::cast_op<T>(std::move(caster));
}

template <>
at::Tensor EagerArgs::get<at::Tensor>(size_t pos) {
  return tensor(pos, false);
}

template <>
c10::optional<at::Tensor> EagerArgs::get<c10::optional<at::Tensor>>(size_t pos) {
  at::Tensor t = tensor(pos, true);
  return t.defined() ? c10::optional<at::Tensor>(std::move(t)) : c10::nullopt;
}

template <>
double EagerArgs::get<double>(size_t pos) {
  return scalar<double>(pos, "a float");
}

template <>
int64_t EagerArgs::get<int64_t>(size_t pos) {
  return scalar<int64_t>(pos, "an int");
}

template <>
bool EagerArgs::get<bool>(size_t pos) {
  return scalar<bool>(pos, "a bool");
}

}  // namespace aiter
