"""The eager fast path (aiter._C.eager_norm) and its hand-off to the
dispatcher: plain eager calls skip torch.ops, anything that must see the op
(dispatch modes, subclasses, autograd, meta tensors) goes through it, and
both give the same results and the same in-place bookkeeping."""
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import aiter
from helpers import assert_matches, reference_add_rmsnorm, reference_rmsnorm

EPS = 1e-6


class OpLog(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(str(func))
        return func(*args, **(kwargs or {}))


def _qk(device, dtype=torch.bfloat16, t=5):
    qkv = torch.randn(t, 48 * 128, device=device).to(dtype)
    return qkv[:, : 32 * 128].view(t, 32, 128)


def _profiled_names(fn):
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return {e.name for e in prof.events()}


def test_plain_eager_call_skips_the_dispatcher(device):
    q, w = _qk(device), torch.randn(128, device=device).to(torch.bfloat16)
    names = _profiled_names(lambda: aiter.rms_norm(q, w, EPS))
    assert "aiter.rms_norm" in names, names
    assert "aiter::rmsnorm" not in names, names


def test_dispatch_mode_sees_every_op(device):
    q, w = _qk(device), torch.randn(128, device=device).to(torch.bfloat16)
    out, res = torch.empty_like(q), torch.randn_like(q)
    res_out = torch.empty_like(q)
    with OpLog() as log:
        y = aiter.rms_norm(q, w, EPS)
        aiter.rmsnorm2d_fwd_with_add(out, q, res, res_out, w, EPS)
        aiter.fused_add_rms_norm_cu(out, res_out, w, EPS)
    assert [n for n in log.names if n.startswith("aiter.")] == [
        "aiter.rmsnorm.default",
        "aiter.add_rmsnorm.default",
        "aiter.fused_add_rmsnorm_.default",
    ]
    assert_matches(y, reference_rmsnorm(q, w, EPS), q.dtype, "rms_norm under a dispatch mode")


def test_both_paths_agree_bitwise(device):
    q, w = _qk(device), torch.randn(128, device=device).to(torch.bfloat16)
    r = torch.randn_like(q)
    fast = aiter.rms_norm(q, w, EPS)
    with OpLog():
        slow = aiter.rms_norm(q, w, EPS)
    assert torch.equal(fast, slow)
    o1, o2, ro1, ro2 = (torch.empty_like(q) for _ in range(4))
    aiter.rmsnorm2d_fwd_with_add(o1, q, r, ro1, w, EPS)
    with OpLog():
        aiter.rmsnorm2d_fwd_with_add(o2, q, r, ro2, w, EPS)
    assert torch.equal(o1, o2) and torch.equal(ro1, ro2)
    ref_out, ref_res = reference_add_rmsnorm(q, r, w, EPS)
    assert_matches(o1, ref_out, q.dtype, "fused add, eager path")


def test_written_buffers_get_a_new_version(device):
    x, w = torch.randn(4, 64, device=device), torch.randn(64, device=device)
    out, res, res_out = torch.empty_like(x), torch.randn_like(x), torch.empty_like(x)
    v_out, v_res_out, v_x = out._version, res_out._version, x._version
    aiter.rms_norm_cu(out, x, w, EPS)
    assert out._version == v_out + 1 and x._version == v_x
    aiter.rmsnorm2d_fwd_with_add(out, x, res, res_out, w, EPS)
    assert out._version == v_out + 2 and res_out._version == v_res_out + 1
    v_x, v_res = x._version, res._version
    aiter.fused_add_rms_norm_cu(x, res, w, EPS)
    assert x._version == v_x + 1 and res._version == v_res + 1


def test_autograd_inputs_take_the_dispatcher_path():
    x, w = torch.randn(4, 64, requires_grad=True), torch.randn(64)
    names = _profiled_names(lambda: aiter.rms_norm(x, w, EPS))
    assert "aiter::rmsnorm" in names, names
    with torch.no_grad():
        names = _profiled_names(lambda: aiter.rms_norm(x, w, EPS))
    assert "aiter.rms_norm" in names and "aiter::rmsnorm" not in names, names


def test_all_meta_call_is_shape_only_and_mixed_meta_raises():
    m = torch.empty(4, 8, device="meta")
    y = aiter.rms_norm(m, torch.empty(8, device="meta"), EPS)
    assert y.device.type == "meta" and y.shape == (4, 8)
    with pytest.raises(ValueError, match=r"aiter\.rms_norm: argument 'weight' must be on the input's device cpu"):
        aiter.rms_norm(torch.randn(4, 8), torch.empty(8, device="meta"), EPS)
