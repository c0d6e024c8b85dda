// Registers the eager fast-path entry on the extension's pybind11 module.
#pragma once
#include <torch/extension.h>

namespace aiter {
void register_eager_entries(py::module& m);
}
