// Registers the launch-policy helpers (launch_tune.h, host/launch_policy.h)
// on the extension's pybind11 module: tables, the override, derived and
// resolved targets, the tune keys. aiter.tuning and the tests use them.
#pragma once
#include <torch/extension.h>

namespace aiter {
void register_launch_policy(py::module& m);
}
