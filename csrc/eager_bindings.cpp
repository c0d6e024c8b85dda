// The eager fast path: a pybind11 entry that takes the Python arguments as
// they come, checks their types itself (so a list or a str is a TypeError
// naming the op and the argument), and calls the same launcher as the
// torch.library ops without the dispatcher's per-call cost. Anything the
// dispatcher must see (tensor subclasses, dispatch modes, functorch, meta
// tensors, autograd) gets NotImplemented back and takes the torch.ops path.
#include "eager_bindings.h"

#include <torch/csrc/Exceptions.h>
#include <torch/csrc/autograd/python_variable.h>
#include <torch/csrc/autograd/variable.h>
#include <ATen/record_function.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include "host/message.h"
#include "host/norm_launcher.h"
#include "host/tensor_checks.h"

namespace aiter {
namespace {

std::string type_name(py::handle h) { return Py_TYPE(h.ptr())->tp_name; }

const at::Tensor& tensor_arg(const std::string& op, const char* name, py::handle h) {
  if (THPVariable_Check(h.ptr())) return THPVariable_Unpack(h.ptr());
  if (h.is_none())
    throw py::type_error(message(op, ": argument '", name,
                                 "' is None (an undefined tensor); expected a Tensor"));
  throw py::type_error(message(op, ": argument '", name, "' must be a Tensor, got ", type_name(h)));
}

double float_arg(const std::string& op, const char* name, py::handle h) {
  if (PyFloat_Check(h.ptr()) || PyLong_Check(h.ptr())) return PyFloat_AsDouble(h.ptr());
  throw py::type_error(message(op, ": argument '", name, "' must be a float, got ", type_name(h)));
}

int64_t int_arg(const std::string& op, const char* name, py::handle h) {
  if (PyLong_Check(h.ptr())) return PyLong_AsLongLong(h.ptr());
  throw py::type_error(message(op, ": argument '", name, "' must be an int, got ", type_name(h)));
}

// Keys, on a tensor or in the thread's included set, that mean someone else
// (a subclass, a dispatch mode, functionalization, functorch) must see the call.
const c10::DispatchKeySet kInterposed({c10::DispatchKey::Python, c10::DispatchKey::PythonTLSSnapshot,
                                       c10::DispatchKey::Functionalize,
                                       c10::DispatchKey::FuncTorchBatched,
                                       c10::DispatchKey::FuncTorchGradWrapper,
                                       c10::DispatchKey::FuncTorchDynamicLayerFrontMode,
                                       c10::DispatchKey::FuncTorchDynamicLayerBackMode});

bool plain(const at::Tensor& t) {
  if (!t.defined()) return true;  // the launcher reports it
  if (t.is_meta() || t.key_set().has_any(kInterposed)) return false;
  return !(t.requires_grad() && at::GradMode::is_enabled());
}

bool dispatcher_needed(std::initializer_list<const at::Tensor*> tensors) {
  // Dispatch modes and functorch transforms push their keys into the
  // thread's included set.
  if (c10::impl::tls_local_dispatch_key_set().included_.has_any(kInterposed)) return true;
  for (const at::Tensor* t : tensors)
    if (t != nullptr && !plain(*t)) return true;
  return false;
}

// What eager_norm is asked to do. The residuals are ignored unless kAdd.
enum EagerKind : int { kNormInto = 0, kNormNew = 1, kAdd = 2 };

// eager_norm(op, kind, out, input, residual_in, residual_out, weight,
//            epsilon, gemma_norm, use_model_sensitive_rmsnorm)
// kNormNew ignores `out` and returns a new contiguous output (rms_norm);
// kAdd's residual_out may be residual_in itself (the in-place op).
py::object eager_norm(const std::string& op, int kind, py::handle out_h, py::handle input_h,
                      py::handle residual_in_h, py::handle residual_out_h, py::handle weight_h,
                      py::handle epsilon_h, py::handle gemma_h, py::handle model_sensitive_h) {
  HANDLE_TH_ERRORS
  const at::Tensor& input = tensor_arg(op, "input", input_h);
  const at::Tensor& weight = tensor_arg(op, "weight", weight_h);
  TORCH_CHECK(kind == kNormInto || kind == kNormNew || kind == kAdd, "eager_norm: bad kind ", kind);
  const bool allocate = kind == kNormNew;
  const at::Tensor* out = allocate ? nullptr : &tensor_arg(op, "out", out_h);
  const bool add = kind == kAdd;
  const at::Tensor* residual_in = add ? &tensor_arg(op, "residual_in", residual_in_h) : nullptr;
  const at::Tensor* residual_out =
      add ? &tensor_arg(op, "residual_out", residual_out_h) : nullptr;
  const double epsilon = float_arg(op, "epsilon", epsilon_h);
  const bool gemma = int_arg(op, "gemma_norm", gemma_h) != 0;
  const int64_t model_sensitive = int_arg(op, "use_model_sensitive_rmsnorm", model_sensitive_h);

  if (dispatcher_needed({&input, &weight, out, residual_in, residual_out}))
    return py::reinterpret_borrow<py::object>(Py_NotImplemented);

  // Profiler traces name the public op (the dispatcher path shows aiter::<op>).
  RECORD_FUNCTION(op.c_str(), std::vector<c10::IValue>());
  const NormVariant variant = add ? NormVariant::kAddRms : NormVariant::kRms;
  const at::Tensor none;
  // CPU rows are computed here, so other Python threads run meanwhile; a GPU
  // call only launches, and keeps the GIL (cheaper than releasing it).
  auto run = [&](const NormCall& call) {
    if (input.is_cpu()) {
      py::gil_scoped_release no_gil;
      run_row_norm(call);
    } else {
      run_row_norm(call);
    }
  };
  if (allocate) {
    // Checked before allocating: a sparse or 0-d input gets the op's message.
    check_input_tensor(op.c_str(), "input", input);
    const at::Tensor fresh = at::empty(input.sizes(), input.options());
    run({op.c_str(), variant, fresh, input, none, none, weight, epsilon, gemma, model_sensitive});
    return py::reinterpret_steal<py::object>(THPVariable_Wrap(fresh));
  }
  run({op.c_str(), variant, *out, input, add ? *residual_in : none, add ? *residual_out : none,
       weight, epsilon, gemma, model_sensitive});
  // What the dispatcher's ADInplaceOrView kernel would do for written args.
  torch::autograd::impl::bump_version(*out);
  if (add && !residual_out->is_same(*out)) torch::autograd::impl::bump_version(*residual_out);
  return py::none();
  END_HANDLE_TH_ERRORS_PYBIND
}

}  // namespace

void register_eager_entries(py::module& m) {
  m.def("eager_norm", &eager_norm,
        "The row norm without the dispatcher; NotImplemented where the dispatcher must run it");
}

}  // namespace aiter
