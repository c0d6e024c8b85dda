"""The calls that reach every kernel instantiation a target's planner can
pick: a grid of dtypes, aligned and misaligned views, 2- and 4-row-dim
layouts, every variant (plain, fused add, fused Q/K, dynamic and smooth quant
per row and per group in each format, LayerNorm and its quant), hidden sizes
at the edges of every register-cache regime, and row counts on both sides of
the CU count (decode launches split or slice rows, others do not). Each
candidate is planned with the launcher's own choose_launch (_C.simulate_launch,
plan only) to find the kernel it runs; the cheapest call per kernel is kept.

run_and_check() runs one such call (on whatever backend is in use) and holds
every output against the float64 reference of the views' logical values."""
from dataclasses import dataclass
from typing import Dict, Tuple

import torch

from aiter import _C
from helpers import (QUANT_DTYPES, assert_matches, assert_quant_matches, layernorm_y_atol, prologue_sum,
                     reference_layernorm, reference_rmsnorm)

CTYPE = {torch.float32: "float", torch.float16: "__half", torch.bfloat16: "__hip_bfloat16"}
FORMAT_BITS = {torch.int8: 1, torch.float8_e4m3fn: 2, torch.float8_e4m3fnuz: 3}
GROUP_SCALES, SMOOTH, DENSE_ROWS = 0x40, 0x80, 0x100
# Base variant bits (csrc/include/norm_params.h): add 1, quant 2, LayerNorm 4; two jobs 8.
FAMILIES = {"rms": 0, "add": 1, "quant": 2, "add_quant": 3, "layer": 4, "add_layer": 5, "layer_quant": 6,
            "add_layer_quant": 7, "qk": 8}
EPS = 1e-6
Key = Tuple[str, int, int, int, str]  # tools/codeobject_report.py's kernel_key


@dataclass(frozen=True)
class Case:
    family: str
    dtype: torch.dtype
    aligned: bool
    dims: int  # row dims: 2 (a 2D / Q-slice-like view) or 4 (does not collapse)
    hidden: int
    rows: int
    group: int = 0  # quant group size (0: per row)

    @property
    def elements(self):
        return self.rows * self.hidden


def _geometry(case: Case):
    """(shape, stride, offset) of the input: rows of `hidden` with a padded
    pitch; misaligned views start one element in."""
    h, offset = case.hidden, 0 if case.aligned else 1
    pitch = h + (16 if case.aligned else 3)
    if case.dims == 2:
        return (case.rows, h), (pitch, 1), offset
    n = case.rows // 4  # (2, n, 2, h) over a (2, 2, n, h) buffer: the leading dims never collapse
    return (2, n, 2, h), (2 * n * pitch, pitch, n * pitch, 1), offset


def _view(case: Case, dtype, gen=None):
    shape, stride, offset = _geometry(case)
    numel = offset + sum((s - 1) * st for s, st in zip(shape, stride)) + 1
    if gen is None:
        storage = torch.zeros(numel + 8, dtype=dtype)
    elif dtype.is_floating_point and dtype.itemsize > 1:
        storage = torch.randn(numel + 8, generator=gen).to(dtype)
    else:
        storage = torch.zeros(numel + 8, dtype=dtype)
    return storage.as_strided(shape, stride, offset)


def _vector(n, dtype, gen, offset=0.0):
    return (torch.randn(n, generator=gen) + offset).to(dtype)


def kernel_keys(case: Case, target) -> Dict[Tuple[torch.dtype, bool], Key]:
    """The kernel each (format, smooth) flavour of `case` runs on `target`
    (formats and xscale do not change the launch), or {} where the launch is
    unsupported there."""
    fam = FAMILIES[case.family]
    quant, add, layer, two = bool(fam & 2), bool(fam & 1), bool(fam & 4), bool(fam & 8)
    x = _view(case, case.dtype)
    w = torch.zeros(case.hidden, dtype=case.dtype)
    out = _view(case, torch.int8 if quant else case.dtype)
    kw = dict(warp_size=target.warp, sm_count=target.cus, max_threads_per_sm=target.threads_per_cu, walk=False)
    if add:
        kw["residual_in"], kw["residual_out"] = _view(case, case.dtype), _view(case, case.dtype)
    if quant:
        kw["yscale"] = torch.zeros(x.shape[:-1] + (max(1, case.hidden // (case.group or case.hidden)),))
        kw["group_size"] = case.group
    if two:
        kw["k"], kw["k_out"], kw["k_weight"] = _view(case, case.dtype), _view(case, case.dtype), w.clone()
    sim = _C.simulate_launch(out, x, w, layer=layer, **kw)
    if sim["shape_violations"]:
        return {}
    c = sim["config"]
    entry = ("compact split" if c["split"] > 1 else "compact") if c["compact_params"] else ""
    dense = DENSE_ROWS if c["dense_rows"] else 0
    keys = {}
    flavours = [(q, s) for q in QUANT_DTYPES for s in (False, True)] if quant else [(None, False)]
    for qdtype, smooth in flavours:
        variant = fam | dense
        if quant:
            variant |= FORMAT_BITS[qdtype] << 4 | (GROUP_SCALES if case.group else 0) | (SMOOTH if smooth else 0)
        keys[(qdtype, smooth)] = (CTYPE[case.dtype], c["vec"], c["chunks"], variant, entry)
    return keys


def candidates(target):
    """The grid (module docstring)."""
    busy = 4 * (target.cus // 4 + 1)  # rows past the CU count (launches that neither split nor slice)
    for dtype in CTYPE:
        vec = 16 // dtype.itemsize
        for aligned in (True, False):
            step = vec if aligned else 1
            # chunks per row at every edge: short rows (one or two vectors a
            # lane), long rows of 2, 4 and 8 vectors a thread, block bounds
            # of 512 and 1024 lanes, and streamed rows past them.
            chunks = sorted({1, 8, 33, 64, 65, 96, 128, 129, 256, 257, 512, 1024, 2048, 2049, 4096, 4097, 8192,
                             8193, 16384})
            hiddens = sorted({c * step for c in chunks} | ({7, 769} if not aligned else set()))
            for hidden in hiddens:
                for dims in (2, 4):
                    # a decode launch (one row; eight for the 4D view, whose
                    # dims would collapse at one row a dim) and a busy one
                    for rows in (1 if dims == 2 else 8, busy):
                        if rows * hidden > 2_200_000:
                            continue
                        for family in FAMILIES:
                            groups = [0]
                            if family in ("quant", "add_quant"):
                                # groups of a vector or eight, a 64-lane group, and one group a row
                                groups += sorted({g for g in (step, 8 * step, 64 * step, hidden) if hidden % g == 0})
                            for group in groups:
                                yield Case(family, dtype, aligned, dims, hidden, rows, group)


def plan(target) -> Dict[Key, Tuple[Case, object, bool]]:
    """For each kernel the grid reaches: the cheapest call reaching it."""
    best: Dict[Key, Tuple[Case, object, bool]] = {}
    for case in candidates(target):
        for (qdtype, smooth), key in kernel_keys(case, target).items():
            if key not in best or case.elements < best[key][0].elements:
                best[key] = (case, qdtype, smooth)
    return best


def run_and_check(case: Case, qdtype, smooth, seed=0):
    """Runs `case` through its registered op (whatever backend is in use) and
    checks every output against the float64 reference."""
    gen = torch.Generator().manual_seed(seed)
    ops = torch.ops.aiter
    fam = FAMILIES[case.family]
    quant, add, layer = bool(fam & 2), bool(fam & 1), bool(fam & 4)
    dtype, h = case.dtype, case.hidden
    x = _view(case, dtype, gen)
    if layer:
        x.add_(2.0)  # an offset mean
    w = _vector(h, dtype, gen, 1.0 if layer else 0.0)
    b = _vector(h, dtype, gen) if layer else None
    xb = _vector(h, dtype, gen) if layer else None
    r = _view(case, dtype, gen) if add else None
    r_out = _view(case, dtype) if add else None
    xscale = (torch.rand(h, generator=gen) + 0.5) if smooth else None
    what = f"{case} {qdtype} smooth={smooth}"
    if case.family == "qk":
        k = _view(case, dtype, gen)
        kw = _vector(h, dtype, gen)
        q_out, k_out = _view(case, dtype), _view(case, dtype)
        ops.qk_rmsnorm(q_out, x, w, k_out, k, kw, EPS)
        assert_matches(q_out, reference_rmsnorm(x, w, EPS), dtype, what + " q")
        assert_matches(k_out, reference_rmsnorm(k, kw, EPS), dtype, what + " k")
        return
    s64 = prologue_sum(x, r, xb if layer else None)
    if not quant:
        out = _view(case, dtype)
        if case.family == "rms":
            ops.rmsnorm(out, x, w, EPS, False, 0)
        elif case.family == "add":
            ops.add_rmsnorm(out, x, r, r_out, w, EPS, False, 0)
        elif case.family == "layer":
            ops.layernorm(out, x, w, b, 1e-5, xb)
        else:
            ops.add_layernorm(out, x, r, r_out, w, b, 1e-5, xb)
        want = reference_layernorm(s64, w, b, 1e-5) if layer else reference_rmsnorm(s64, w, EPS)
        assert_matches(out, want, dtype, what)
    else:
        out = _view(case, qdtype)
        groups = h // case.group if case.group else 1
        ys = torch.full(x.shape[:-1] + (groups,), -1.0)
        if case.family == "quant":
            ops.rmsnorm_quant(out, x, ys, w, EPS, xscale, None, case.group, False, False, 0)
        elif case.family == "add_quant":
            ops.add_rmsnorm_quant(out, x, r, r_out, ys, w, EPS, xscale, None, case.group, False, False, 0)
        elif case.family == "layer_quant":
            ops.layernorm_quant(out, x, ys, w, b, 1e-5, xscale, xb)
        else:
            ops.add_layernorm_quant(out, x, r, r_out, ys, w, b, 1e-5, xscale, xb)
        y64 = reference_layernorm(s64, w, b, 1e-5) if layer else reference_rmsnorm(s64, w, EPS)
        if smooth:
            y64 = y64 * xscale.double()
        atol = layernorm_y_atol(s64, w, xscale) if layer else None
        assert_quant_matches(out, ys, y64, qdtype, case.group, what, y_atol=atol)
    if add:
        assert torch.equal(r_out, s64.to(dtype)), what + ": residual_out is not the rounded sum"
