"""Shared by the SIMT executor tests: a call run on the executor (which
raises on any fault, aiter.simt.executor's default, and must report a
launch), and the device string of tests rerun there."""
from aiter import simt

EPS = 1e-6
TARGETS = ["gfx942", "warp32"]


def run(target, fn, *args, **kwargs):
    """fn(*args) on the executor for `target`; returns (result, report)."""
    with simt.executor(target):
        result = fn(*args, **kwargs)
        report = simt.report()
    assert report["launches"] >= 1 and report["blocks"] >= 1, "the call did not run on the executor"
    assert simt.fault_count(report) == 0, report["messages"]
    return result, report


class ExecutorDevice(str):
    """The device of a test run on the executor: "cpu" to torch, with the
    GPU's launch limits at the executor's wave width (helpers.gpu_warp)."""

    def __new__(cls, name, warp):
        device = super().__new__(cls, name)
        device.warp = warp
        return device
