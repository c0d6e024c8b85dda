#pragma once
#include <torch/extension.h>

namespace aiter {
void register_simt_bindings(py::module& m);
}
