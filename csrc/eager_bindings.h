// Registers the eager fast-path entry (eager_op) and its kinds (eager_kinds:
// registered op name -> kind) on the extension's pybind11 module.
#pragma once
#include <torch/extension.h>

namespace aiter {
void register_eager_entries(py::module& m);
}
