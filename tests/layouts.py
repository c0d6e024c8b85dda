"""The layout matrix: geometries (shape, stride, storage offset) of views a
norm op must read and write in place. Each builder takes the leading count n
and the hidden size and returns (shape, stride, offset)."""


def dense(n, h):
    return (n, h), (h, 1), 0


def row_strided(n, h):  # a column slice of a wider buffer, vector-friendly pitch
    return (n, h), (h + 64, 1), 0


def row_strided_odd(n, h):  # odd pitch: every other row misaligned (scalar path)
    return (n, h), (h + 3, 1), 0


def qk3d_q(n, h):  # Q slice of a packed QKV (4 q, 2 k, 2 v heads)
    return (n, 4, h), (8 * h, h, 1), 0


def qk3d_k(n, h):  # K slice of the same buffer: starts 4 heads in
    return (n, 2, h), (8 * h, h, 1), 4 * h


def permuted4d(n, h):  # (B, T, H, D) from a (B, H, T, D) buffer: leading dims don't collapse
    return (2, n, 2, h), (2 * n * h, h, n * h, 1), 0


def rowdims4(n, h):  # (A, m, C, D) rows of a padded (A, C, m, D, h + 8) buffer: four row dims that don't collapse
    # 8 rows per m, at least n of them (tests count on n leading indices giving n rows or more);
    # m >= 2 keeps all four dims (m = 1 collapses them, as a single leading index does elsewhere).
    m = n if n <= 1 else max(2, -(-n // 8))
    pitch = h + 8
    return (2, m, 2, 2, h), (4 * m * pitch, 2 * pitch, 2 * m * pitch, pitch, 1), 0


def size1_dims(n, h):  # size-1 dims with meaningless strides
    return (1, n, 1, h), (999, h, 12345, 1), 0


def expanded(n, h):  # stride 0 on a leading dim: one row read n times (inputs only)
    return (n, h), (0, 1), 0


def odd_offset(n, h):  # starts one element into its storage: misaligned (scalar path)
    return (n, h), (h, 1), 1


ZERO_COPY_LAYOUTS = {
    f.__name__: f
    for f in (dense, row_strided, row_strided_odd, qk3d_q, qk3d_k, permuted4d, rowdims4, size1_dims, expanded,
              odd_offset)
}

# Outputs must not have overlapping elements, so an expanded input gets a dense output.
OUTPUT_LAYOUT_FOR = {name: (dense if name == "expanded" else f) for name, f in ZERO_COPY_LAYOUTS.items()}


def contiguous_like(layout):
    """A dense layout with the same logical shape as `layout`."""

    def build(n, h):
        shape = layout(n, h)[0]
        stride, step = [], 1
        for size in reversed(shape):
            stride.insert(0, step)
            step *= max(size, 1)
        return shape, tuple(stride), 0

    return build
