"""Shared by the SIMT executor tests: inputs over canaried storage, a call run
on the executor (which must report no fault and a launch), and the float64
checks. The executor raises on any fault (aiter.simt.executor's default)."""
import torch

from aiter import simt
from helpers import ByteCanariedView, CanariedView, QUANT_DTYPES, span

EPS = 1e-6
TARGETS = ["gfx942", "warp32"]


def canaried(layout, n, h, dtype, gen, scale=1.0):
    shape, stride, offset = layout(n, h)
    values = (torch.randn(shape, generator=gen) * scale).to(dtype)
    return CanariedView(shape, stride, offset, span(shape, stride, offset) + 5, dtype, "cpu", values)


def out_view(layout, n, h, dtype):
    shape, stride, offset = layout(n, h)
    numel = span(shape, stride, offset) + 5
    if dtype in QUANT_DTYPES:
        return ByteCanariedView(shape, stride, offset, numel, dtype, "cpu")
    return CanariedView(shape, stride, offset, numel, dtype, "cpu")


def scale_view(lead, groups, flat=True):
    rows = 1
    for s in lead:
        rows *= s
    shape = (rows, groups) if flat else tuple(lead) + (groups,)
    stride, step = [], 1
    for size in reversed(shape):
        stride.insert(0, step)
        step *= max(size, 1)
    return CanariedView(shape, tuple(stride), 2, span(shape, stride, 2) + 3, torch.float32, "cpu")


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
