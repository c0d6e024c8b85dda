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
