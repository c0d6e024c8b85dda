"""The layout planner (csrc/include/row_layout.h, exposed by aiter.layout)."""
import itertools

import pytest
import torch

from aiter import layout


def brute_force_offsets(t):
    """Storage offset of each row's first element, in logical row order."""
    lead = t.shape[:-1]
    base = t.storage_offset()
    offsets = []
    for idx in itertools.product(*(range(s) for s in lead)):
        offsets.append(t[idx].storage_offset() - base if idx else 0)
    return offsets


VIEWS = {
    "dense": lambda: torch.empty(6, 5, 8),
    "row_strided": lambda: torch.empty(6, 40)[:, :8],
    "qk3d": lambda: torch.empty(4, 48)[:, :32].view(4, 4, 8),
    "permuted4d": lambda: torch.empty(2, 3, 4, 8).permute(0, 2, 1, 3),
    "size1": lambda: torch.empty(5, 8).as_strided((1, 5, 1, 8), (777, 8, 31, 1)),
    "expanded": lambda: torch.empty(1, 8).expand(5, 8),
    "expanded_two_dims": lambda: torch.empty(8).expand(3, 4, 8),
    "four_dims": lambda: torch.empty(2, 4, 3, 5, 8).permute(1, 0, 3, 2, 4),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_plan_reproduces_every_row_offset(name):
    t = VIEWS[name]()
    plan = layout.plan_rows(t)
    assert plan.in_place
    assert plan.rows == t.numel() // t.shape[-1]
    want = brute_force_offsets(t)
    got = [layout.row_offset(plan.sizes, plan.strides, r) for r in range(plan.rows)]
    assert got == want


@pytest.mark.parametrize(
    "name,dims",
    [("dense", 1), ("row_strided", 1), ("qk3d", 2), ("permuted4d", 3), ("size1", 1), ("expanded", 1),
     ("expanded_two_dims", 1), ("four_dims", 4)],
)
def test_leading_dims_collapse_where_memory_allows(name, dims):
    assert len(layout.plan_rows(VIEWS[name]()).sizes) == dims


def test_seed_view_is_two_row_dims_without_copy():
    q = torch.empty(2048, 6144)[:, :4096].view(2048, 32, 128)
    plan = layout.plan_rows(q)
    assert plan == layout.RowPlan(2048 * 32, (2048, 32), (6144, 128), True)


def test_transposed_and_five_dim_views_are_not_in_place():
    assert not layout.plan_rows(torch.empty(8, 6).t()).in_place
    five = torch.empty(2, 2, 2, 2, 2, 2, 4).permute(4, 3, 2, 1, 0, 5, 6)[..., 0, :]
    assert not layout.plan_rows(five).in_place
    assert layout.plan_rows(torch.empty(8, 1).t()).in_place  # hidden 1: stride meaningless


def test_offsets_are_64_bit():
    # A row far beyond 2^31 elements: the planner must not wrap.
    sizes, strides = (3, 2**20), (2**33, 2**12)
    row = 2 * 2**20 + 5
    assert layout.row_offset(sizes, strides, row) == 2 * 2**33 + 5 * 2**12
    assert layout.row_offset((2**40,), (3,), 2**35) == 3 * 2**35


# The inner of two row dims is divided by a multiply-high magic number
# (row_layout.h, divide_by) while the row index fits in 31 bits: awkward
# divisors, rows at the edges of each quotient and at the 31-bit limit, and
# the 64-bit path just beyond it, against Python's integer arithmetic.
DIVISORS = [1, 2, 3, 5, 7, 12, 100, 641, 6700417 % 2**16, 2**16 + 1, 2**30 - 1, 2**30, 2**30 + 1, 2**31 - 1,
            2**31, 2**31 + 3]


@pytest.mark.parametrize("d", DIVISORS)
def test_row_offsets_divide_exactly(d):
    gen = torch.Generator().manual_seed(d)
    outer = 2**40 // d + 1
    sizes, strides = (outer, d), (7 * d + 3, 7)  # not collapsible: two row dims
    limit = 2**31 - 1
    rows = {0, 1, d - 1, d, d + 1, limit, limit - 1, limit + 1, limit + d, 2**33 + 5}
    for k in (1, 2, 3, limit // d - 1, limit // d, limit // d + 1):
        rows.update({k * d - 1, k * d, k * d + 1})
    rows.update(torch.randint(0, limit, (200,), generator=gen).tolist())
    for row in sorted(r for r in rows if 0 <= r < outer * d):
        want = (row // d) * strides[0] + (row % d) * strides[1]
        assert layout.row_offset(sizes, strides, row) == want, (d, row)


@pytest.mark.parametrize("d", DIVISORS)
def test_dense_row_offsets_match_for_up_to_two_row_dims(d):
    """The dense-row kernels' formula (two_dim_row_offset: no branch on the
    number of dims) on two row dims, one (where the unused outer slot must
    add nothing, including sizes of 2^31 and more) and none."""
    gen = torch.Generator().manual_seed(d)
    limit = 2**31 - 1
    two = ((2**40 // d + 1, d), (7 * d + 3, 7))
    one = ((d,), (5,))
    for sizes, strides in (two, one):
        total = sizes[0] * (sizes[1] if len(sizes) == 2 else 1)
        rows = {0, 1, d - 1, d, d + 1, limit, limit - 1} | set(torch.randint(0, limit, (100,), generator=gen).tolist())
        for row in sorted(r for r in rows if 0 <= r < total and r <= limit):
            want = layout.row_offset(sizes, strides, row)
            assert layout.row_offset(sizes, strides, row, dense=True) == want, (sizes, row)
    assert layout.row_offset((1, 1), (99, 7), 0, dense=True) == 0  # no row dims left
    with pytest.raises(ValueError, match="two row dims"):
        layout.row_offset((2, 3, 5), (100, 20, 1), 7, dense=True)


def test_three_and_four_row_dims_divide_exactly():
    """The general path (a divide per dim) on awkward sizes."""
    gen = torch.Generator().manual_seed(0)
    for sizes in [(5, 3, 7), (2, 641, 3, 1000), (9, 11, 13, 17), (2**20, 3, 2**9 + 1)]:
        strides = tuple(10**i + 1 for i in range(len(sizes) - 1, -1, -1))
        total = 1
        for s in sizes:
            total *= s
        for row in set(torch.randint(0, total, (300,), generator=gen).tolist()) | {0, total - 1}:
            rest, want = row, 0
            for size, stride in zip(reversed(sizes), reversed(strides)):
                want += (rest % size) * stride
                rest //= size
            assert layout.row_offset(sizes, strides, row) == want, (sizes, row)


def test_row_offset_refuses_rows_outside_the_layout():
    with pytest.raises(ValueError, match="outside"):
        layout.row_offset((3, 5), (100, 7), 15)
