"""Test helpers: views over canaried storage and the float64 reference."""
import torch

CANARY = -7777.0  # exactly representable in fp16, bf16 and fp32


class CanariedView:
    """A view over a flat storage buffer whose every element outside the view
    holds CANARY, so writes outside the view are detectable bit for bit."""

    def __init__(self, shape, stride, offset, numel, dtype, device, values=None):
        self.storage = torch.full((numel,), CANARY, dtype=dtype, device=device)
        self.view = self.storage.as_strided(shape, stride, offset)
        idx = torch.arange(numel, device=device).as_strided(shape, stride, offset)
        self.mask = torch.zeros(numel, dtype=torch.bool, device=device)
        self.mask[idx.reshape(-1)] = True
        if values is not None:
            # Through the index, so expanded (stride-0) views fill too.
            self.storage[idx.reshape(-1)] = values.reshape(-1)
        self.snapshot = self.storage.clone()

    def untouched_outside(self):
        """True when every element outside the view is bitwise unchanged."""
        keep = ~self.mask
        a = self.storage[keep].view(torch.int16 if self.storage.element_size() == 2 else torch.int32)
        b = self.snapshot[keep].view(a.dtype)
        return torch.equal(a, b)

    def unchanged(self):
        a = self.storage.view(torch.int16 if self.storage.element_size() == 2 else torch.int32)
        return torch.equal(a, self.snapshot.view(a.dtype))


def gpu_warp(device):
    """The warp width whose launch limits calls on `device` follow: 32 on
    CUDA, the wave width on the CPU SIMT executor (a "cpu" device string
    with a `warp`), 0 for the CPU backend (no such limits)."""
    return 32 if device == "cuda" else getattr(device, "warp", 0)


def span(shape, stride, offset):
    """Elements of storage a view with this geometry needs."""
    if any(s == 0 for s in shape):
        return offset + 1
    return offset + sum((s - 1) * st for s, st in zip(shape, stride)) + 1


def round_to(x64, dtype):
    return x64.to(dtype).double()


def reference_rmsnorm(x, weight, eps, gemma=False, model_sensitive=0):
    """float64 reference from the view's logical values."""
    x64 = x.double()
    w64 = weight.double()
    gain = 1.0 + w64 if gemma else w64
    inv = torch.rsqrt(x64.pow(2).mean(-1, keepdim=True) + eps)
    normed = x64 * inv
    if model_sensitive:
        normed = round_to(normed, x.dtype)
    return normed * gain


def reference_add_rmsnorm(x, residual, weight, eps, gemma=False, model_sensitive=0):
    """(out, residual_out): the sum is rounded to the dtype, as stored, and the
    norm is taken over the stored sum."""
    s = (x.double() + residual.double()).to(x.dtype)
    return reference_rmsnorm(s, weight, eps, gemma, model_sensitive), s


TOLERANCE = {  # (atol, rtol) against the float64 reference
    torch.float32: (2e-5, 2e-5),
    torch.float16: (2e-3, 4e-3),
    torch.bfloat16: (1.6e-2, 1.6e-2),
}


def assert_matches(actual, expected64, dtype, what):
    atol, rtol = TOLERANCE[dtype]
    err = (actual.double() - expected64).abs()
    bound = atol + rtol * expected64.abs()
    bad = err > bound
    assert not bool(bad.any()), (
        f"{what}: {int(bad.sum())} of {bad.numel()} elements off; max abs error "
        f"{err.max().item():.3g} (dtype {dtype})"
    )


# ---------------------------------------------------------------- the norm family
QMAX = {torch.int8: 127.0, torch.float8_e4m3fn: 448.0, torch.float8_e4m3fnuz: 240.0}
QUANT_DTYPES = list(QMAX)


def prologue_sum(x, residual=None, x_bias=None):
    """input [+ x_bias] [+ residual], as the kernels compute it (in fp32, in
    that order) and store it (rounded to the dtype once), as float64. With
    nothing added: the input itself."""
    if residual is None and x_bias is None:
        return x.double()
    s = x.float()
    if x_bias is not None:
        s = s + x_bias.float()
    if residual is not None:
        s = s + residual.float()
    return s.to(x.dtype).double()


def reference_layernorm(s64, weight, bias, eps):
    mean = s64.mean(-1, keepdim=True)
    var = (s64 - mean).pow(2).mean(-1, keepdim=True)
    y = (s64 - mean) * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight.double()
    if bias is not None:
        y = y + bias.double()
    return y


def quant_cast(v64, qdtype):
    """torch's own cast of float64 values to the quantised dtype, saturating,
    round to nearest even."""
    qmax = QMAX[qdtype]
    v = v64.clamp(-qmax, qmax)
    if qdtype == torch.int8:
        return torch.round(v).to(torch.int8)
    return v.to(qdtype)


def reference_quant(y64, qdtype, group_size=0):
    """(codes, scales) of the float64 reference: scale = max|y| / qmax per row
    (or per group of columns), codes = cast(y / scale); scales have shape
    y.shape[:-1] + (groups,)."""
    hidden = y64.shape[-1]
    g = group_size or hidden
    grouped = y64.reshape(*y64.shape[:-1], hidden // g, g)
    scale = grouped.abs().amax(-1) / QMAX[qdtype]
    inv = torch.where(scale > 0, 1.0 / scale, torch.zeros_like(scale))
    v = (grouped * inv.unsqueeze(-1)).reshape(y64.shape)
    return v, scale


def ordinal(codes):
    """Quantised codes as signed integers that step by one per representable value."""
    if codes.dtype == torch.int8:
        return codes.to(torch.int64)
    b = codes.view(torch.uint8).to(torch.int64)
    mag = b & 0x7F
    return torch.where(b & 0x80 != 0, -mag, mag)


# Relative error allowed on fp32-computed values against float64 (the scale,
# and y / scale before rounding): a few ulps for the per-element products and
# the reciprocal, plus sqrt(hidden) ulps for the fp32 row sums (the sum of
# squares, and the mean for LayerNorm). Empirically the error stays below a
# third of this.
def fp32_rtol(hidden):
    return (16 + 4 * hidden ** 0.5) * 2.0 ** -24


def layernorm_y_atol(x64, weight, xscale=None):
    """Absolute error on LayerNorm outputs from the fp32 mean: the mean is off
    by up to fp32_rtol * max|x| (relative to the row's magnitude, not to the
    deviations), and every y = (x - mean) * inv_std * w [* xscale] inherits
    it. One value per row, shaped to broadcast over the last dim."""
    mean = x64.mean(-1, keepdim=True)
    inv_std = 1.0 / ((x64 - mean).pow(2).mean(-1, keepdim=True) + 1e-5).sqrt()
    gain = weight.double().abs().max()
    if xscale is not None:
        gain = gain * xscale.double().abs().max()
    return fp32_rtol(x64.shape[-1]) * x64.abs().amax(-1, keepdim=True) * inv_std * gain


def assert_quant_matches(codes, scales, y64, qdtype, group_size, what, y_atol=None):
    """Scales to fp32_rtol of the float64 reference; codes equal to the
    reference's cast except where y / scale lies within fp32_rtol (plus
    y_atol / scale, for LayerNorm's mean) of a rounding boundary, where one
    step of the format either way is allowed."""
    hidden = y64.shape[-1]
    v64, s64 = reference_quant(y64, qdtype, group_size)
    rtol = fp32_rtol(hidden)
    s = scales.double().reshape(s64.shape)
    serr = (s - s64).abs()
    assert bool((serr <= rtol * s64.abs() + 1e-30).all()), (
        f"{what}: scales off by up to {(serr / s64.abs().clamp_min(1e-30)).max().item():.3g} relative "
        f"(allowed {rtol:.3g})"
    )
    want = ordinal(quant_cast(v64, qdtype))
    got = ordinal(codes)
    err = 2 * rtol * v64.abs()
    if y_atol is not None:
        g = group_size or hidden
        per_group = s64.unsqueeze(-1).expand(*s64.shape, g).reshape(v64.shape)
        err = err + 2 * y_atol / per_group.clamp_min(1e-30)
    lo, hi = ordinal(quant_cast(v64 - err, qdtype)), ordinal(quant_cast(v64 + err, qdtype))
    near = lo != hi
    diff = (got - want).abs()
    bad = (diff > 0) & ~near | (diff > 1)
    if bool(bad.any()):
        idx = bad.reshape(-1).nonzero()[:3, 0].tolist()
        where = [(v64.reshape(-1)[i].item(), int(got.reshape(-1)[i]), int(want.reshape(-1)[i])) for i in idx]
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.numel()} codes off (max {int(diff.max())} steps, "
            f"{int(near.sum())} near a rounding boundary); (y/scale, got, want) at the first: {where}"
        )


class ByteCanariedView:
    """CanariedView for one-byte (quantised) dtypes: the storage is bytes filled
    with 0xA5, viewed as the dtype."""

    def __init__(self, shape, stride, offset, numel, dtype, device):
        self.bytes = torch.full((numel,), 0xA5, dtype=torch.uint8, device=device)
        self.view = self.bytes.view(dtype).as_strided(shape, stride, offset)
        idx = torch.arange(numel, device=device).as_strided(shape, stride, offset)
        self.mask = torch.zeros(numel, dtype=torch.bool, device=device)
        self.mask[idx.reshape(-1)] = True
        self.snapshot = self.bytes.clone()

    def untouched_outside(self):
        keep = ~self.mask
        return torch.equal(self.bytes[keep], self.snapshot[keep])

    def unchanged(self):
        return torch.equal(self.bytes, self.snapshot)


# Views of a layout (tests/layouts.py: (n, h) -> shape, stride, offset) in
# canaried storage, 5 elements past the view's span.
def canaried(layout, n, h, dtype, device, gen, scale=1.0):
    """An input view holding scaled standard-normal values drawn from gen."""
    shape, stride, offset = layout(n, h)
    values = (torch.randn(shape, generator=gen) * scale).to(dtype)
    return CanariedView(shape, stride, offset, span(shape, stride, offset) + 5, dtype, device, values.to(device))


def out_view(layout, n, h, dtype, device):
    """An output view; byte canaries for the one-byte quantised dtypes."""
    shape, stride, offset = layout(n, h)
    numel = span(shape, stride, offset) + 5
    if dtype in QUANT_DTYPES:
        return ByteCanariedView(shape, stride, offset, numel, dtype, device)
    return CanariedView(shape, stride, offset, numel, dtype, device)


def table_specs():
    """{name: tune spec} of every launch table the tests walk: the derived
    defaults, each committed per-GPU table (aiter/tuning/*.json), each value
    the tuner sweeps other than the default (a table it writes is one or more
    of these), and two tables setting every key at once (all paths off; the
    other way)."""
    from aiter import _C, tuning
    default = _C.derive_target(warp_size=32, sm_count=132, max_threads_per_sm=2048, async_copy=True)
    specs = {"derived": ""}
    specs.update({f"table-{p.stem}": tuning.read_table(p)["tune"] for p in tuning.table_paths()})
    for key, values in tuning.SWEEP_GRID.items():
        for v in values:
            if v != default[key]:
                specs[f"{key}={v}"] = f"{key}={v}"
    specs["all-off"] = ("grid_waves=0,stage_rows=0,batch_rows=0,dense_rows=0,dense_prefetch=0,short_threads=128,"
                        "packed_threads=128,decode_split=0,decode_slices=1,dense_split=0")
    specs["all-other"] = "grid_waves=2,short_threads=512,packed_threads=512,decode_split=1,decode_slices=8"
    return specs
