"""How a view's rows are described to the kernels.

The planner itself is the C++ one in csrc/include/row_layout.h (shared by the
launcher, the CPU backend and the GPU kernels); this module exposes it to
Python for tests, the launch simulation and users who want to know whether a
call will be zero-copy.
"""
from typing import NamedTuple, Tuple

import torch

from ._backend import _C

MAX_ROW_DIMS: int = _C.max_row_dims


class RowPlan(NamedTuple):
    rows: int
    sizes: Tuple[int, ...]  # collapsed row dims, outermost first
    strides: Tuple[int, ...]  # in elements
    in_place: bool  # False: the launcher gathers this view into a buffer


def plan_rows(t: torch.Tensor) -> RowPlan:
    """The row description the launcher uses for tensor argument ``t``."""
    plan = _C.plan_rows(list(t.shape[:-1]), list(t.stride()[:-1]))
    last_dense = t.shape[-1] == 1 or t.stride(-1) == 1
    return RowPlan(
        plan["rows"], tuple(plan["sizes"]), tuple(plan["strides"]), plan["fits"] and last_dense
    )


def row_offset(sizes, strides, row: int, dense: bool = False) -> int:
    """Element offset of ``row`` for collapsed row dims (the kernels' formula;
    ``dense``: the dense-row kernels' one, for at most two row dims)."""
    return _C.row_offset(list(sizes), list(strides), row, dense)


def is_zero_copy(*tensors: torch.Tensor) -> bool:
    """True when every tensor argument can be read and written in place."""
    return all(plan_rows(t).in_place for t in tensors)
