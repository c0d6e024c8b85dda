// The eager fast path: one entry, aiter._C.eager_op(op, kind, new_out,
// *args), that takes a registered op's arguments as Python passes them,
// checks their types itself (so a list or a str is a TypeError naming the op
// and the argument), and calls the op's implementation (the one the
// torch.library registration uses) without the dispatcher's per-call cost.
// Anything the dispatcher must see (tensor subclasses, dispatch modes,
// functorch, meta tensors, autograd) gets NotImplemented back and takes the
// torch.ops path.
#include "eager_bindings.h"

#include <torch/csrc/Exceptions.h>
#include <torch/csrc/autograd/python_variable.h>
#include <torch/csrc/autograd/variable.h>
#include <ATen/record_function.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include <tuple>
#include <type_traits>
#include <utility>

#include "eager_args.h"
#include "host/norm_ops.h"
#include "host/tensor_checks.h"

namespace aiter {
namespace {

// Keys, on a tensor or in the thread's included set, that mean someone else
// (a subclass, a dispatch mode, functionalization, functorch) must see the call.
const c10::DispatchKeySet kInterposed({c10::DispatchKey::Python, c10::DispatchKey::PythonTLSSnapshot,
                                       c10::DispatchKey::Functionalize,
                                       c10::DispatchKey::FuncTorchBatched,
                                       c10::DispatchKey::FuncTorchGradWrapper,
                                       c10::DispatchKey::FuncTorchDynamicLayerFrontMode,
                                       c10::DispatchKey::FuncTorchDynamicLayerBackMode});

bool plain(const at::Tensor& t) {
  if (!t.defined()) return true;  // the allocated `out`, not made yet
  if (t.is_meta() || t.key_set().has_any(kInterposed)) return false;
  return !(t.requires_grad() && at::GradMode::is_enabled());
}
bool plain(const c10::optional<at::Tensor>& t) { return !t.has_value() || plain(*t); }
template <typename Scalar>
bool plain(const Scalar&) {
  return true;
}

template <typename... Arg>
bool dispatcher_needed(const EagerArgs& args, const Arg&... values) {
  // Dispatch modes and functorch transforms push their keys into the
  // thread's included set.
  if (c10::impl::tls_local_dispatch_key_set().included_.has_any(kInterposed)) return true;
  return args.overridden() || !(plain(values) && ...);
}

// Written arguments get a new version, so autograd notices when a tensor it
// saved is overwritten. Bumped before the launch, as torch's in-place ops do:
// an inference tensor outside inference mode is refused before anything is
// written. (The launcher refuses two written arguments sharing memory.)
void bump_if(bool written, const at::Tensor& t) {
  if (written) torch::autograd::impl::bump_version(t);
}
void bump_if(bool written, const c10::optional<at::Tensor>& t) {
  if (written && t.has_value()) torch::autograd::impl::bump_version(*t);
}
template <typename Scalar>
void bump_if(bool, const Scalar&) {}

template <typename... P, size_t... I>
py::object run(void (*fn)(P...), const char* op, const EagerSchema& schema, bool new_out, EagerArgs& args,
               std::index_sequence<I...>) {
  // Braced initialisation reads the arguments left to right: the first bad
  // one is the one reported, as on the dispatcher path.
  std::tuple<std::decay_t<P>...> values{args.get<std::decay_t<P>>(I)...};
  if (dispatcher_needed(args, std::get<I>(values)...))
    return py::reinterpret_borrow<py::object>(Py_NotImplemented);

  // Profiler traces name the public op (the dispatcher path shows aiter::<op>).
  RECORD_FUNCTION(op, std::vector<c10::IValue>());
  // Only ops whose schema starts (Tensor out, Tensor input) can return a new `out`.
  using Values = std::tuple<std::decay_t<P>...>;
  constexpr bool kCanAllocate = [] {
    if constexpr (sizeof...(P) >= 2)
      return std::is_same_v<std::tuple_element_t<0, Values>, at::Tensor> &&
             std::is_same_v<std::tuple_element_t<1, Values>, at::Tensor>;
    return false;
  }();
  if constexpr (kCanAllocate) {
    if (new_out) {
      // `out` (position 0) is a new contiguous tensor like the input (1):
      // checked first so a sparse or 0-d input gets the op's message.
      TORCH_CHECK(schema.names[0] == "out", op, ": this op does not return a new output");
      const at::Tensor& input = std::get<1>(values);
      check_input_tensor(op, "input", input);
      std::get<0>(values) = at::empty(input.sizes(), input.options());
    }
  } else {
    TORCH_CHECK(!new_out, op, ": this op does not return a new output");
  }
  (bump_if(schema.written[I], std::get<I>(values)), ...);
  // CPU rows are computed here, so other Python threads run meanwhile; a GPU
  // call only launches, and keeps the GIL (cheaper than releasing it).
  if (args.on_cpu()) {
    py::gil_scoped_release no_gil;
    fn(std::get<I>(values)...);
  } else {
    fn(std::get<I>(values)...);
  }
  if constexpr (kCanAllocate) {
    if (new_out) return py::reinterpret_steal<py::object>(THPVariable_Wrap(std::get<0>(values)));
  }
  return py::none();
}

// Reads the Python arguments as fn's parameters and runs it.
template <typename... P>
py::object call_fn(void (*fn)(P...), const char* op, const EagerSchema& schema, bool new_out,
                   PyArgs args) {
  EagerArgs reader(op, schema, new_out, args);
  return run(fn, op, schema, new_out, reader, std::index_sequence_for<P...>{});
}

// One row per registered op: its schema name and its implementation called
// with Python arguments. A kind (the index here) picks the row.
struct EagerOp {
  const char* name;
  py::object (*call)(const char* op, const EagerSchema& schema, bool new_out, PyArgs args);
};

template <auto Fn>
py::object call_op(const char* op, const EagerSchema& schema, bool new_out, PyArgs args) {
  return call_fn(Fn, op, schema, new_out, args);
}

#define AITER_EAGER_OP(name, fn) EagerOp{#name, &call_op<&fn>},
const EagerOp kOps[] = {AITER_NORM_OPS(AITER_EAGER_OP)};
#undef AITER_EAGER_OP
constexpr int kNumOps = sizeof(kOps) / sizeof(kOps[0]);

// Filled when the module loads (the ops are registered by then).
std::vector<EagerSchema> g_schemas;

// eager_op(op, kind, new_out, *args): op is the public name (for errors and
// the profiler), kind an index of aiter._C.eager_kinds, args the registered
// op's arguments in schema order; with new_out the leading `out` is left out
// and a new one is returned. A plain CPython fast-call function: no argument
// tuple is built, which is most of what a pybind11 entry would cost here.
PyObject* eager_op(PyObject* /*module*/, PyObject* const* args, Py_ssize_t nargs) {
  HANDLE_TH_ERRORS
  TORCH_CHECK_TYPE(nargs >= 3 && PyUnicode_Check(args[0]) && PyLong_Check(args[1]) && PyBool_Check(args[2]),
                   "eager_op(op: str, kind: int, new_out: bool, *args)");
  const long kind = PyLong_AsLong(args[1]);
  TORCH_CHECK_VALUE(kind >= 0 && kind < kNumOps, "eager_op: unknown kind ", static_cast<int64_t>(kind));
  const char* op = PyUnicode_AsUTF8(args[0]);
  if (op == nullptr) throw python_error();
  const PyArgs rest{args + 3, static_cast<size_t>(nargs - 3)};
  return kOps[kind].call(op, g_schemas[kind], args[2] == Py_True, rest).release().ptr();
  END_HANDLE_TH_ERRORS
}

PyMethodDef kEagerMethods[] = {
    {"eager_op", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&eager_op)), METH_FASTCALL,
     "A registered op without the dispatcher; NotImplemented where the dispatcher must run it"},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

void register_eager_entries(py::module& m) {
  EagerArgs::init();
  py::dict kinds;
  for (int k = 0; k < kNumOps; ++k) {
    g_schemas.push_back(EagerSchema::of((std::string("aiter::") + kOps[k].name).c_str()));
    kinds[kOps[k].name] = k;
  }
  m.attr("eager_kinds") = kinds;
  if (PyModule_AddFunctions(m.ptr(), kEagerMethods) != 0) throw py::error_already_set();
}

}  // namespace aiter
