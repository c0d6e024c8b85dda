"""A catalogue of bad inputs. Each case asserts the exception type, that the
message names the public op, the argument and the offending
shape/stride/dtype/device/value, and that every tensor passed (outputs
included) is bitwise unchanged afterwards. Direct ``torch.ops.aiter`` callers
get the same checks from the launcher.

"""
import math

import pytest
import torch

import aiter
from helpers import assert_matches, reference_add_rmsnorm, reference_rmsnorm

EPS = 1e-6
F32, F16, BF16 = torch.float32, torch.float16, torch.bfloat16

_cuda = torch.cuda.is_available() and aiter.gpu_backend_available()
needs_cuda = pytest.mark.skipif(not _cuda, reason="needs a CUDA device and a GPU build (runs on the H100)")



def t(shape, dtype=F32, device="cpu", fill=None):
    g = torch.Generator().manual_seed(hash(tuple(shape)) % 1000)
    x = torch.randn(*shape, generator=g, dtype=torch.float32) if fill is None else torch.full(shape, fill)
    return x.to(dtype).to(device)


def ops():
    return torch.ops.aiter


# Each builder returns (fn, args). fn(*args) must raise.
# Case: id -> (builder, exception type, substrings the message must contain, marks)
CASES = []


def case(cid, exc, needles, marks=()):
    def deco(builder):
        CASES.append(pytest.param(builder, exc, needles, id=cid, marks=marks))
        return builder

    return deco


# ---------------------------------------------------------------- rank / hidden
@case("rms_norm-0d-input", ValueError, ["aiter.rms_norm:", "'input'", "0-d", "dtype Float"])
def _(d):
    return aiter.rms_norm, (torch.tensor(1.0, device=d), t([1], device=d), EPS)


@case("rms_norm_cu-0d-input", ValueError, ["aiter.rms_norm_cu:", "'input'", "0-d", "shape []"])
def _(d):
    return aiter.rms_norm_cu, (torch.tensor(0.0, device=d), torch.tensor(1.0, device=d), t([1], device=d), EPS)


@case("rmsnorm2d_fwd-hidden0", ValueError, ["aiter.rmsnorm2d_fwd:", "'input'", "hidden size", "shape [4, 0]"])
def _(d):
    return aiter.rmsnorm2d_fwd, (t([4, 0], device=d), t([0], device=d), EPS)


@case("add_rmsnorm-hidden0", ValueError, ["aiter.add_rmsnorm:", "'input'", "shape [3, 0]"])
def _(d):
    z = lambda: t([3, 0], device=d)  # noqa: E731
    return aiter.add_rmsnorm, (z(), z(), z(), z(), t([0], device=d), EPS)


# ---------------------------------------------------------------- weight
@case("rms_norm-weight-len", ValueError, ["aiter.rms_norm:", "'weight'", "hidden = 8", "shape [7]"])
def _(d):
    return aiter.rms_norm, (t([4, 8], device=d), t([7], device=d), EPS)


@case("rmsnorm-weight-2d", ValueError, ["aiter.rmsnorm:", "'weight'", "shape [1, 8]"])
def _(d):
    return aiter.rmsnorm, (t([4, 8], device=d), t([4, 8], device=d), t([1, 8], device=d), EPS)


@case("rms_norm-weight-f16", TypeError, ["aiter.rms_norm:", "'weight'", "dtype Half", "Float"])
def _(d):
    return aiter.rms_norm, (t([4, 8], device=d), t([8], F16, d), EPS)


@case("fused-weight-bf16", TypeError, ["aiter.fused_add_rms_norm_cu:", "'weight'", "dtype BFloat16"])
def _(d):
    return aiter.fused_add_rms_norm_cu, (t([4, 8], device=d), t([4, 8], device=d), t([8], BF16, d), EPS)


# ---------------------------------------------------------------- dtype mismatch / unsupported
@case("rms_norm_cu-out-dtype", TypeError, ["aiter.rms_norm_cu:", "'out'", "dtype Half", "Float"])
def _(d):
    return aiter.rms_norm_cu, (t([4, 8], F16, d), t([4, 8], device=d), t([8], device=d), EPS)


@case("add_rmsnorm-residual_in-dtype", TypeError, ["aiter.add_rmsnorm:", "'residual_in'", "dtype BFloat16"])
def _(d):
    return aiter.add_rmsnorm, (t([4, 8], F16, d), t([4, 8], F16, d), t([4, 8], BF16, d), t([4, 8], F16, d),
                               t([8], F16, d), EPS)


@case("with_add-residual_out-dtype", TypeError, ["aiter.rmsnorm2d_fwd_with_add:", "'residual_out'", "dtype Float"])
def _(d):
    return aiter.rmsnorm2d_fwd_with_add, (t([4, 8], BF16, d), t([4, 8], BF16, d), t([4, 8], BF16, d),
                                          t([4, 8], F32, d), t([8], BF16, d), EPS)


@case("fused-residual-dtype", TypeError, ["aiter.fused_add_rms_norm_cu:", "'residual_in'", "dtype Half"])
def _(d):
    return aiter.fused_add_rms_norm_cu, (t([4, 8], device=d), t([4, 8], F16, d), t([8], device=d), EPS)


for _dt, _name in [(torch.int32, "Int"), (torch.float64, "Double"), (torch.bool, "Bool")]:

    @case(f"rms_norm-{_name}", TypeError, ["aiter.rms_norm:", "'input'", f"dtype {_name}", "float32, float16 or bfloat16"])
    def _(d, _dt=_dt):
        return aiter.rms_norm, (t([4, 8], device=d).to(_dt), t([8], device=d).to(_dt), EPS)

    @case(f"add_rmsnorm-{_name}", TypeError, ["aiter.add_rmsnorm:", "'input'", f"dtype {_name}"])
    def _(d, _dt=_dt):
        x = lambda: t([4, 8], device=d).to(_dt)  # noqa: E731
        return aiter.add_rmsnorm, (x(), x(), x(), x(), t([8], device=d).to(_dt), EPS)


@case("rms_norm_cu-out-f64", TypeError, ["aiter.rms_norm_cu:", "'out'", "dtype Double"])
def _(d):
    return aiter.rms_norm_cu, (t([4, 8], torch.float64, d), t([4, 8], device=d), t([8], device=d), EPS)


# ---------------------------------------------------------------- devices
@case("rms_norm_cu-out-meta", ValueError, ["aiter.rms_norm_cu:", "'out'", "device meta"])
def _(d):
    return aiter.rms_norm_cu, (torch.empty(4, 8, device="meta"), t([4, 8]), t([8]), EPS)


@case("rms_norm-weight-meta", ValueError, ["aiter.rms_norm:", "'weight'", "device meta"])
def _(d):
    return aiter.rms_norm, (t([4, 8]), torch.empty(8, device="meta"), EPS)


@case("add_rmsnorm-residual_in-meta", ValueError, ["aiter.add_rmsnorm:", "'residual_in'", "device meta"])
def _(d):
    return aiter.add_rmsnorm, (t([4, 8]), t([4, 8]), torch.empty(4, 8, device="meta"), t([4, 8]), t([8]), EPS)


@case("rms_norm_cu-out-cpu-input-cuda", ValueError, ["aiter.rms_norm_cu:", "'out'", "device cpu", "cuda"],
      marks=needs_cuda)
def _(d):
    return aiter.rms_norm_cu, (t([4, 8]), t([4, 8], device="cuda"), t([8], device="cuda"), EPS)


@case("rms_norm-weight-cpu-input-cuda", ValueError, ["aiter.rms_norm:", "'weight'", "device cpu"], marks=needs_cuda)
def _(d):
    return aiter.rms_norm, (t([4, 8], device="cuda"), t([8]), EPS)


@case("add_rmsnorm-residual_out-cpu", ValueError, ["aiter.add_rmsnorm:", "'residual_out'", "device cpu"],
      marks=needs_cuda)
def _(d):
    c = lambda: t([4, 8], device="cuda")  # noqa: E731
    return aiter.add_rmsnorm, (c(), c(), c(), t([4, 8]), t([8], device="cuda"), EPS)


# ---------------------------------------------------------------- output shapes
@case("rms_norm_cu-out-shape", ValueError, ["aiter.rms_norm_cu:", "'out'", "shape [4, 9]", "[4, 8]"])
def _(d):
    return aiter.rms_norm_cu, (t([4, 9], device=d), t([4, 8], device=d), t([8], device=d), EPS)


@case("rmsnorm-out-same-numel", ValueError, ["aiter.rmsnorm:", "'out'", "shape [8, 4]"])
def _(d):
    return aiter.rmsnorm, (t([8, 4], device=d), t([4, 8], device=d), t([8], device=d), EPS)


@case("add_rmsnorm-out-broadcastable", ValueError, ["aiter.add_rmsnorm:", "'out'", "shape [2, 4, 8]"])
def _(d):
    return aiter.add_rmsnorm, (t([2, 4, 8], device=d), t([4, 8], device=d), t([4, 8], device=d), t([4, 8], device=d),
                               t([8], device=d), EPS)


@case("with_add-residual_out-shape", ValueError, ["aiter.rmsnorm2d_fwd_with_add:", "'residual_out'", "shape [5, 8]"])
def _(d):
    return aiter.rmsnorm2d_fwd_with_add, (t([4, 8], device=d), t([4, 8], device=d), t([4, 8], device=d),
                                          t([5, 8], device=d), t([8], device=d), EPS)


@case("fused-residual-shape", ValueError, ["aiter.fused_add_rms_norm_cu:", "'residual_in'", "shape [1, 8]"])
def _(d):
    return aiter.fused_add_rms_norm_cu, (t([4, 8], device=d), t([1, 8], device=d), t([8], device=d), EPS)


# ---------------------------------------------------------------- internal overlap of outputs
def _strided(numel, shape, stride, d, offset=0):
    return t([numel], device=d).as_strided(shape, stride, offset)


@case("rms_norm_cu-out-stride0", ValueError, ["aiter.rms_norm_cu:", "'out'", "overlap", "stride [0, 1]"])
def _(d):
    return aiter.rms_norm_cu, (_strided(8, (4, 8), (0, 1), d), t([4, 8], device=d), t([8], device=d), EPS)


@case("rmsnorm-out-rows-alias", ValueError, ["aiter.rmsnorm:", "'out'", "overlap", "stride [4, 1]"])
def _(d):
    return aiter.rmsnorm, (_strided(20, (4, 8), (4, 1), d), t([4, 8], device=d), t([8], device=d), EPS)


@case("rmsnorm-out-3d-alias", ValueError, ["aiter.rmsnorm:", "'out'", "stride [16, 8, 1]"])
def _(d):
    # (2, 3, 8) whose row (1, 0) is row (0, 2): rows alias across dims
    return aiter.rmsnorm, (_strided(64, (2, 3, 8), (16, 8, 1), d), t([2, 3, 8], device=d), t([8], device=d), EPS)


@case("add_rmsnorm-residual_out-stride0", ValueError, ["aiter.add_rmsnorm:", "'residual_out'", "stride [0, 1]"])
def _(d):
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.add_rmsnorm, (x(), x(), x(), _strided(8, (4, 8), (0, 1), d), t([8], device=d), EPS)


@case("add_rmsnorm-out-hidden-stride0", ValueError, ["aiter.add_rmsnorm:", "'out'", "stride [8, 0]"])
def _(d):
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.add_rmsnorm, (_strided(32, (4, 8), (8, 0), d), x(), x(), x(), t([8], device=d), EPS)


@case("fused-input-expanded", ValueError, ["aiter.fused_add_rms_norm_cu:", "'out'", "stride [0, 1]"])
def _(d):
    return aiter.fused_add_rms_norm_cu, (t([1, 8], device=d).expand(4, 8), t([4, 8], device=d), t([8], device=d), EPS)


# ---------------------------------------------------------------- partial overlap between inputs and outputs
@case("rms_norm_cu-out-shifted-over-input", ValueError,
      ["aiter.rms_norm_cu:", "'out'", "partly overlaps", "'input'", "shape [4, 8], stride [8, 1]"])
def _(d):
    buf = t([40], device=d)
    return aiter.rms_norm_cu, (buf.as_strided((4, 8), (8, 1), 1), buf.as_strided((4, 8), (8, 1), 0), t([8], device=d), EPS)


@case("rmsnorm-out-transposed-input", ValueError, ["aiter.rmsnorm:", "'out'", "partly overlaps", "stride [1, 8]"])
def _(d):
    buf = t([64], device=d)
    return aiter.rmsnorm, (buf.as_strided((8, 8), (8, 1)), buf.as_strided((8, 8), (1, 8)), t([8], device=d), EPS)


@case("rms_norm_cu-out-covers-weight", ValueError, ["aiter.rms_norm_cu:", "'out'", "'weight'"])
def _(d):
    out = t([4, 8], device=d)
    return aiter.rms_norm_cu, (out, t([4, 8], device=d), out[2], EPS)


@case("add_rmsnorm-out-over-residual_in", ValueError, ["aiter.add_rmsnorm:", "'out'", "'residual_in'", "partly"])
def _(d):
    buf = t([48], device=d)
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.add_rmsnorm, (buf.as_strided((4, 8), (8, 1), 4), x(), buf.as_strided((4, 8), (8, 1), 0), x(),
                               t([8], device=d), EPS)


@case("add_rmsnorm-out-is-residual_out", ValueError,
      ["aiter.add_rmsnorm:", "'out'", "same memory", "'residual_out'", "shape [4, 8]"])
def _(d):
    o = t([4, 8], device=d)
    return aiter.add_rmsnorm, (o, t([4, 8], device=d), t([4, 8], device=d), o, t([8], device=d), EPS)


@case("with_add-out-over-residual_out", ValueError, ["aiter.rmsnorm2d_fwd_with_add:", "'out'", "'residual_out'"])
def _(d):
    buf = t([64], device=d)
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.rmsnorm2d_fwd_with_add, (buf.as_strided((4, 8), (16, 1), 4), x(), x(),
                                          buf.as_strided((4, 8), (16, 1), 0), t([8], device=d), EPS)


@case("add_rmsnorm-residual_out-over-input", ValueError, ["aiter.add_rmsnorm:", "'residual_out'", "'input'"])
def _(d):
    buf = t([40], device=d)
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.add_rmsnorm, (x(), buf.as_strided((4, 8), (8, 1), 8), x(), buf.as_strided((4, 8), (8, 1), 0),
                               t([8], device=d), EPS)


@case("add_rmsnorm-residual_out-covers-weight", ValueError, ["aiter.add_rmsnorm:", "'residual_out'", "'weight'"])
def _(d):
    r = t([4, 8], device=d)
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.add_rmsnorm, (x(), x(), x(), r, r[1], EPS)


@case("fused-same-tensor", ValueError, ["aiter.fused_add_rms_norm_cu:", "same memory", "stride [8, 1]"])
def _(d):
    x = t([4, 8], device=d)
    return aiter.fused_add_rms_norm_cu, (x, x, t([8], device=d), EPS)


@case("fused-input-over-residual", ValueError, ["aiter.fused_add_rms_norm_cu:", "partly overlaps"])
def _(d):
    buf = t([36], device=d)
    return aiter.fused_add_rms_norm_cu, (buf.as_strided((4, 8), (8, 1), 0), buf.as_strided((4, 8), (8, 1), 3),
                                         t([8], device=d), EPS)


# ---------------------------------------------------------------- epsilon
for _eps, _txt in [(-1.0, "-1"), (-1e-30, "-1e-30"), (math.nan, "nan"), (math.inf, "inf")]:

    @case(f"rms_norm-eps{_txt}", ValueError, ["aiter.rms_norm:", "'epsilon'", f"got {_txt}"])
    def _(d, _eps=_eps):
        return aiter.rms_norm, (t([4, 8], device=d), t([8], device=d), _eps)


@case("add_rmsnorm-eps-neginf", ValueError, ["aiter.add_rmsnorm:", "'epsilon'", "got -inf"])
def _(d):
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.add_rmsnorm, (x(), x(), x(), x(), t([8], device=d), -math.inf)


@case("fused-eps-nan", ValueError, ["aiter.fused_add_rms_norm_cu:", "'epsilon'", "nan"])
def _(d):
    return aiter.fused_add_rms_norm_cu, (t([4, 8], device=d), t([4, 8], device=d), t([8], device=d), math.nan)


# ---------------------------------------------------------------- non-tensor arguments
@case("rms_norm-input-str", TypeError, ["aiter.rms_norm:", "'input'", "str"])
def _(d):
    return aiter.rms_norm, ("x", t([8], device=d), EPS)


@case("rms_norm_cu-out-None", TypeError, ["aiter.rms_norm_cu:", "'out'", "undefined"])
def _(d):
    return aiter.rms_norm_cu, (None, t([4, 8], device=d), t([8], device=d), EPS)


@case("rms_norm-weight-list", TypeError, ["aiter.rms_norm:", "'weight'", "list"])
def _(d):
    return aiter.rms_norm, (t([4, 8], device=d), [1.0] * 8, EPS)


@case("rmsnorm-eps-str", TypeError, ["aiter.rmsnorm:", "epsilon", "str"])
def _(d):
    return aiter.rmsnorm, (t([4, 8], device=d), t([4, 8], device=d), t([8], device=d), "1e-6")


@case("add_rmsnorm-residual_in-list", TypeError, ["aiter.add_rmsnorm:", "residual_in", "list"])
def _(d):
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.add_rmsnorm, (x(), x(), [[0.0] * 8] * 4, x(), t([8], device=d), EPS)


# ---------------------------------------------------------------- sparse
@case("rms_norm_cu-input-sparse", ValueError, ["aiter.rms_norm_cu:", "'input'", "strided", "Sparse"])
def _(d):
    return aiter.rms_norm_cu, (t([4, 8], device=d), t([4, 8], device=d).to_sparse(), t([8], device=d), EPS)


@case("rms_norm-weight-sparse", ValueError, ["aiter.rms_norm:", "'weight'", "Sparse", "shape [8]"])
def _(d):
    return aiter.rms_norm, (t([4, 8], device=d), t([8], device=d).to_sparse(), EPS)


@case("add_rmsnorm-residual_in-sparse", ValueError, ["aiter.add_rmsnorm:", "'residual_in'", "Sparse"])
def _(d):
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.add_rmsnorm, (x(), x(), x().to_sparse(), x(), t([8], device=d), EPS)


@case("rmsnorm-out-sparse-csr", ValueError, ["aiter.rmsnorm:", "'out'", "strided", "layout", "shape [4, 8]"],
      marks=pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta"))
def _(d):
    return aiter.rmsnorm, (t([4, 8], device=d).to_sparse_csr(), t([4, 8], device=d), t([8], device=d), EPS)


@case("rms_norm-input-sparse", ValueError, ["aiter.rms_norm:", "'input'", "Sparse"])
def _(d):
    return aiter.rms_norm, (t([4, 8], device=d).to_sparse(), t([8], device=d), EPS)


# ---------------------------------------------------------------- use_model_sensitive_rmsnorm
for _ms in (2, -1):

    @case(f"rms_norm-ms{_ms}", ValueError, ["aiter.rms_norm:", "'use_model_sensitive_rmsnorm'", f"got {_ms}"])
    def _(d, _ms=_ms):
        return aiter.rms_norm, (t([4, 8], device=d), t([8], device=d), EPS, _ms)


@case("with_add-ms5", ValueError, ["aiter.rmsnorm2d_fwd_with_add:", "'use_model_sensitive_rmsnorm'", "got 5"])
def _(d):
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.rmsnorm2d_fwd_with_add, (x(), x(), x(), x(), t([8], device=d), EPS, False, 5)


@case("with_add-legacy-int-ms3", ValueError, ["aiter.rmsnorm2d_fwd_with_add:", "'use_model_sensitive_rmsnorm'", "got 3"])
def _(d):  # v0.1.12 positional form: the 7th argument is use_model_sensitive_rmsnorm
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return aiter.rmsnorm2d_fwd_with_add, (x(), x(), x(), x(), t([8], device=d), EPS, 3)


# ---------------------------------------------------------------- direct torch.ops callers (launcher re-validates)
@case("op-rmsnorm-out-shape", ValueError, ["aiter.rmsnorm:", "'out'", "shape [3, 8]"])
def _(d):
    return ops().rmsnorm.default, (t([3, 8], device=d), t([4, 8], device=d), t([8], device=d), EPS, False, 0)


@case("op-rmsnorm-out-overlapping", ValueError, ["aiter.rmsnorm:", "'out'", "overlap", "stride [1, 1]"])
def _(d):
    return ops().rmsnorm.default, (_strided(11, (4, 8), (1, 1), d), t([4, 8], device=d), t([8], device=d), EPS, False, 0)


@case("op-rmsnorm-weight-short", ValueError, ["aiter.rmsnorm:", "'weight'", "shape [4]"])
def _(d):
    return ops().rmsnorm.default, (t([4, 8], device=d), t([4, 8], device=d), t([4], device=d), EPS, False, 0)


@case("op-add_rmsnorm-residual_out-stride0", ValueError, ["aiter.add_rmsnorm:", "'residual_out'", "stride [0, 0, 1]"])
def _(d):
    x = lambda: t([2, 4, 8], device=d)  # noqa: E731
    return ops().add_rmsnorm.default, (x(), x(), x(), _strided(8, (2, 4, 8), (0, 0, 1), d), t([8], device=d), EPS,
                                       False, 0)


@case("op-add_rmsnorm-out-over-input", ValueError, ["aiter.add_rmsnorm:", "'out'", "'input'"])
def _(d):
    buf = t([40], device=d)
    x = lambda: t([4, 8], device=d)  # noqa: E731
    return ops().add_rmsnorm.default, (buf.as_strided((4, 8), (8, 1), 2), buf.as_strided((4, 8), (8, 1), 0), x(), x(),
                                       t([8], device=d), EPS, False, 0)


@case("op-fused-residual-shape", ValueError, ["aiter.fused_add_rms_norm_cu:", "'residual_in'", "shape [4, 4]"])
def _(d):
    return ops().fused_add_rmsnorm_.default, (t([4, 8], device=d), t([4, 4], device=d), t([8], device=d), EPS, False, 0)


@case("op-rmsnorm-int32", TypeError, ["aiter.rmsnorm:", "'input'", "dtype Int"])
def _(d):
    i = lambda s: torch.ones(*s, dtype=torch.int32, device=d)  # noqa: E731
    return ops().rmsnorm.default, (i([4, 8]), i([4, 8]), i([8]), EPS, False, 0)


@case("op-rmsnorm-ms7", ValueError, ["aiter.rmsnorm:", "'use_model_sensitive_rmsnorm'", "got 7"])
def _(d):
    return ops().rmsnorm.default, (t([4, 8], device=d), t([4, 8], device=d), t([8], device=d), EPS, False, 7)


def _snapshot(args):
    snaps = []
    for a in args:
        if isinstance(a, torch.Tensor) and a.layout == torch.strided and a.device.type != "meta":
            # Whole storage, bitwise: catches writes anywhere in the buffer.
            raw = torch.empty(0, dtype=torch.uint8, device=a.device).set_(a.untyped_storage())
            snaps.append((raw, raw.clone()))
    return snaps


def assert_refused(fn, args, exc, needles):
    """fn(*args) raises exc with every needle in its message, writes nothing
    to any tensor passed, and takes no gather fallback."""
    snaps = _snapshot(args)
    before = aiter.gather_fallback_count()
    with pytest.raises(exc) as info:
        fn(*args)
    msg = str(info.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} missing from message: {msg}"
    for raw, snap in snaps:
        assert torch.equal(raw, snap), "a buffer changed although the call was refused"
    assert aiter.gather_fallback_count() == before


@pytest.mark.parametrize("builder, exc, needles", CASES)
def test_bad_input(builder, exc, needles, device):
    fn, args = builder(device)
    assert_refused(fn, args, exc, needles)


def test_catalogue_size():
    assert len(CASES) >= 40


# ---------------------------------------------------------------- what must still work
def test_exact_same_view_in_place_is_allowed(device):
    buf = t([4 * 24], device=device)
    x = buf.as_strided((4, 8), (24, 1), 8)  # a strided slice, in place
    before = x.clone()
    w = t([8], device=device)
    aiter.rms_norm_cu(x, x, w, EPS)
    assert_matches(x, reference_rmsnorm(before, w, EPS), F32, "in place")


def test_add_rmsnorm_in_place_on_both_is_allowed(device):
    x, r, w = t([4, 8], device=device), t([5, 8], device=device)[1:], t([8], device=device)
    x0, r0 = x.clone(), r.clone()
    aiter.add_rmsnorm(x, x, r, r, w, EPS)
    want, s = reference_add_rmsnorm(x0, r0, w, EPS)
    assert torch.equal(r, s.to(F32))
    assert_matches(x, want, F32, "add in place")


def test_interleaved_slices_of_one_buffer_are_not_overlap(device):
    qkv = t([4, 3, 8], device=device)  # out = q slice, input = k slice: same pitch, disjoint
    q, k = qkv[:, 0], qkv[:, 1]
    k0 = k.clone()
    w = t([8], device=device)
    aiter.rms_norm_cu(q, k, w, EPS)
    assert_matches(q, reference_rmsnorm(k0, w, EPS), F32, "q <- norm(k)")
    assert torch.equal(k, k0)


def test_all_meta_call_is_a_no_op():
    """All-meta calls go to the fake impls: shape-only tracing, no error, no compute."""
    m = lambda *s: torch.empty(*s, device="meta")  # noqa: E731
    y = aiter.rms_norm(m(4, 8), m(8), EPS)
    assert y.device.type == "meta" and y.shape == (4, 8)
    aiter.add_rmsnorm(m(4, 8), m(4, 8), m(4, 8), m(4, 8), m(8), EPS)
    aiter.fused_add_rms_norm_cu(m(4, 8), m(4, 8), m(8), EPS)
    torch.ops.aiter.rmsnorm.default(m(4, 8), m(4, 8), m(8), EPS, False, 0)


@pytest.mark.parametrize(
    "dtype",
    [
        F32,
        torch.float16,
        BF16,
    ],
    ids=str,
)
def test_very_large_hidden_is_correct_on_cpu(dtype):
    """No maximum hidden: the streamed path handles 2**20 in one row."""
    h = 1 << 20
    x = torch.randn(1, h, generator=torch.Generator().manual_seed(0)).to(dtype)
    w = (torch.rand(h, generator=torch.Generator().manual_seed(1)) + 0.5).to(dtype)
    y = aiter.rms_norm(x, w, EPS)
    assert_matches(y, reference_rmsnorm(x, w, EPS), dtype, "hidden 2**20")
