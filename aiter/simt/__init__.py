"""The CPU SIMT executor: the GPU kernels' own source run on the CPU with
64-lane waves (gfx942, gfx90a) or 32-lane warps, for tests.

    import aiter, aiter.simt
    with aiter.simt.executor("gfx942"):
        y = aiter.rms_norm(x, w, 1e-6)      # x on the CPU: planned for gfx942 and run on fibers

Inside the block every norm op on CPU tensors is checked and planned exactly
as for the GPU (the same validation, layout planning, choose_launch with the
target's CUs, wave width and block bounds), then its launch runs the unmodified
kernel source (csrc/kernels/, compiled with compat.h's AITER_SIMT_CPU branch:
HIP's semantics, no asynchronous copies) thread by thread: each GPU thread a
fiber, switching at barriers and shuffles. Every memory access of kernel code
is checked (csrc/simt/simt_check.cpp): shared-memory races and reads of
unwritten shared memory, global accesses outside the caller's views, stores
to inputs, and races on global memory between blocks. A call with a fault
raises RuntimeError naming it (or, with raise_on_fault=False, report() shows
the counts).

What it proves about gfx942: the kernels' arithmetic, wave-width reductions,
shared memory and barriers are right with 64-lane waves on the launch shapes
gfx942 gets. What it cannot: the AMD compiler's code (registers, scheduling,
its rsqrt), hardware memory ordering, timing.
"""
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, List

import torch

from .._backend import _C
from . import build as _build


@dataclass(frozen=True)
class Target:
    name: str
    warp: int  # wave width
    cus: int  # SMs / CUs the planner sizes grids for
    threads_per_cu: int
    epilogue_full_blocks: bool  # LayerNorm / quant kernels may take 1024 threads (CUDA builds: yes; gfx9: no)


TARGETS: Dict[str, Target] = {
    "gfx942": Target("gfx942", 64, 304, 2048, False),  # MI300X / MI325X
    "gfx90a": Target("gfx90a", 64, 110, 2048, False),  # MI250X (one die)
    # CUDA-shaped launches (an H100's SMs and warp width) on the same executor:
    # the wave64 results are compared with these.
    "warp32": Target("warp32", 32, 132, 2048, True),
}

FAULT_KINDS = ("out_of_bounds", "write_to_input", "unwritten_read", "global_race", "shared_race",
               "shared_uninit", "shared_out_of_bounds", "divergence")

_built = set()


def library(warp: int) -> str:
    """Path of the executor library for `warp`-lane waves, built (or brought
    up to date) on first use in a process."""
    if warp not in _built:
        _build.build((warp,))
        _built.add(warp)
    path = str(_build.library_path(warp))
    loaded = _C.simt_load(path)
    if loaded != warp:
        raise RuntimeError(f"{path} runs {loaded}-lane waves, expected {warp}")
    return path


@contextmanager
def executor(target: str = "gfx942", raise_on_fault: bool = True):
    """Routes CPU calls of the norm ops to the executor for `target` (a name
    in TARGETS) inside the block."""
    t = TARGETS[target]
    path = library(t.warp)
    # Planned as the GPU launcher would for a device of that name: derived
    # defaults, then its table (aiter/tuning/<name>.json), then AITER_LAUNCH_TUNE.
    _C.simt_use(path, device=t.name, warp_size=t.warp, sm_count=t.cus, max_threads_per_sm=t.threads_per_cu,
                epilogue_full_blocks=t.epilogue_full_blocks, raise_on_fault=raise_on_fault)
    try:
        yield t
    finally:
        _C.simt_use("")


def report() -> dict:
    """The last executor call's report: fault counts by kind, the launch's
    grid and block, blocks and threads run, the first faults described; and
    `calls`, the norm calls routed to the executor since the block began."""
    return _C.simt_report()


def fault_count(r: dict = None) -> int:
    r = report() if r is None else r
    return sum(r["faults"].values())


def executed_kernels(warp: int) -> List[str]:
    """Every kernel (demangled) the `warp`-lane library has run in this process."""
    return _C.simt_executed_kernels(library(warp))


def quantize_bytes(x: torch.Tensor, kind: str) -> torch.Tensor:
    """The kernels' encoders (encode_values) run on the executor in use."""
    if not _C.simt_active():
        raise RuntimeError("aiter.simt.quantize_bytes: no executor in use (aiter.simt.executor(...))")
    return _C.quantize_bytes(x, kind)


PLANTED = {"wave_sum_width32": 0, "wave_sum": 1, "rotate_no_barrier": 2, "rotate": 3,
           "row_sum_past_end": 4, "row_sum": 5}


def run_planted(name: str, input: torch.Tensor, output: torch.Tensor) -> dict:
    """Runs a planted-fault kernel (csrc/simt/planted_faults.cpp) on the
    executor in use; returns its report."""
    rc = _C.simt_run_planted(PLANTED[name], input, output)
    if rc != 0:
        raise ValueError(f"planted kernel {name}: shapes it does not take ({list(input.shape)})")
    return report()
