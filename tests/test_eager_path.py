"""The eager fast path (aiter._C.eager_op) and its hand-off to the
dispatcher: plain eager calls skip torch.ops, anything that must see the op
(dispatch modes, subclasses, autograd, meta tensors, tracing) goes through
it, and both give the same results; the eager path bumps the versions of
what it writes. Every public op, through the calls of family_calls.py."""
import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import aiter
from aiter.ops import _route
from family_calls import CALLS, same_bits
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


# ---------------------------------------------------------------- every op (tests/family_calls.py)
FAMILY = list(CALLS)


def _outputs(call, result):
    """What a call produced: its written arguments, and what it returned."""
    outs = [call.kwargs[k] for k in call.writes]
    return outs + [result] if isinstance(result, torch.Tensor) else outs


def _run_profiled(call):
    """(result, names of the profiled events)."""
    result = []
    names = _profiled_names(lambda: result.append(call.run()))
    return result[0], names


def _took_eager_path(call, names):
    return f"aiter.{call.public}" in names and f"aiter::{call.op}" not in names


def _took_dispatcher(call, names):
    return f"aiter::{call.op}" in names and f"aiter.{call.public}" not in names


@pytest.mark.parametrize("route", ["dispatch_mode", "compiling"])
@pytest.mark.parametrize("cid", FAMILY)
def test_eager_and_dispatcher_routes_agree_bitwise(cid, route, device, monkeypatch):
    """The same call twice: once on the eager path, once through the
    registered op (under a dispatch mode, or the way torch.compile's tracing
    calls it); every written buffer and any returned tensor bit for bit."""
    fast, slow = CALLS[cid](device), CALLS[cid](device)
    sentinels = {k: fast.kwargs[k].clone() for k in fast.writes}
    fast_result, names = _run_profiled(fast)
    assert _took_eager_path(fast, names), sorted(names)
    if route == "dispatch_mode":
        with OpLog() as log:
            slow_result = slow.run()
        assert f"aiter.{slow.op}.default" in log.names, log.names
    else:
        monkeypatch.setattr(_route, "_compiling", lambda: True)
        slow_result, names = _run_profiled(slow)
        assert _took_dispatcher(slow, names), sorted(names)
    got, want = _outputs(fast, fast_result), _outputs(slow, slow_result)
    assert len(got) == len(want) > 0
    for i, (a, b) in enumerate(zip(got, want)):
        assert same_bits(a, b), f"output {i} differs between the routes"
    for k, before in sentinels.items():
        assert not same_bits(before, fast.kwargs[k]), f"'{k}' was not written"


def _shares_storage(a, b):
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


@pytest.mark.parametrize("cid", FAMILY)
def test_eager_path_bumps_the_version_of_written_arguments(cid, device):
    call = CALLS[cid](device)
    tensors = call.tensors()
    before = {k: t._version for k, t in tensors.items()}
    _, names = _run_profiled(call)
    assert _took_eager_path(call, names)
    for k, t in tensors.items():
        # Views of one buffer (Q and K of a packed QKV) share one counter.
        bumps = sum(_shares_storage(t, tensors[w]) for w in call.writes)
        assert t._version - before[k] == bumps, f"'{k}': version {before[k]} -> {t._version}, wanted +{bumps}"


def _read_only_param(call):
    return next(n for n in ("weight", "q_weight", "input") if n in call.kwargs and n not in call.writes)


@pytest.mark.parametrize("cid", FAMILY)
def test_grad_requiring_inputs_take_the_dispatcher_path(cid, device):
    call = CALLS[cid](device)
    name = _read_only_param(call)
    call.kwargs[name] = call.kwargs[name].detach().requires_grad_()
    _, names = _run_profiled(call)
    assert _took_dispatcher(call, names), sorted(names)
    with torch.no_grad():
        _, names = _run_profiled(CALLS[cid](device))
    assert _took_eager_path(call, names), sorted(names)


@pytest.mark.parametrize("cid", FAMILY)
def test_meta_inputs_take_the_dispatcher_path(cid):
    call = CALLS[cid]("cpu")
    for k, t in call.tensors().items():
        call.kwargs[k] = torch.empty_like(t, device="meta")
    result, names = _run_profiled(call)
    assert _took_dispatcher(call, names), sorted(names)
    if isinstance(result, torch.Tensor):
        assert result.device.type == "meta" and result.shape == call.kwargs["input"].shape


class Logged(torch.Tensor):
    """A subclass with its own __torch_function__ (no dispatch key of its own)."""

    seen = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.seen.append(str(func))
        with torch._C.DisableTorchFunctionSubclass():
            return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("cid", ["rms_norm_cu-row-strided", "dynamicquant-int8", "layer_norm-x_bias",
                                 "qk_rmsnorm-in-place"])
def test_torch_function_subclasses_see_the_registered_op(cid):
    call = CALLS[cid]("cpu")
    name = _read_only_param(call)
    call.kwargs[name] = call.kwargs[name].as_subclass(Logged)
    Logged.seen.clear()
    _, names = _run_profiled(call)
    assert f"aiter.{call.op}.default" in Logged.seen, Logged.seen
    assert _took_dispatcher(call, names)


def test_parameters_stay_on_the_eager_path_without_grad(device):
    """nn.Parameter disables __torch_function__, so a Parameter weight under
    no_grad (inference) is not sent to the dispatcher."""
    call = CALLS["dynamicquant-int8"](device)
    call.kwargs["weight"] = torch.nn.Parameter(call.kwargs["weight"])
    with torch.no_grad():
        _, names = _run_profiled(call)
    assert _took_eager_path(call, names), sorted(names)


@pytest.mark.parametrize("route", ["eager", "compiling"])
def test_scalars_take_what_the_dispatcher_takes(route, monkeypatch):
    """numpy scalars, and ints for bools, as torch.ops accepts them: same bits
    as Python floats and bools, on both routes."""
    want = CALLS["rmsnorm_quant-gemma-group"]("cpu")
    want.run()
    call = CALLS["rmsnorm_quant-gemma-group"]("cpu")
    call.kwargs.update(epsilon=np.float32(EPS), group_size=np.int64(16), shuffle_scale=0, gemma_norm=1)
    if route == "compiling":
        monkeypatch.setattr(_route, "_compiling", lambda: True)
    _, names = _run_profiled(call)
    assert (_took_eager_path if route == "eager" else _took_dispatcher)(call, names)
    for k in call.writes:
        assert same_bits(call.kwargs[k], want.kwargs[k]), k


def test_inference_tensor_is_refused_outside_inference_mode_before_writing():
    """As torch's own in-place ops: the version bump refuses it, before the launch."""
    with torch.inference_mode():
        call = CALLS["dynamicquant-int8"]("cpu")
        call.run()  # fine inside inference mode
    before = {k: call.kwargs[k].clone() for k in call.writes}
    with pytest.raises(RuntimeError, match=r"aiter\.rmsnorm2d_fwd_with_dynamicquant: Inplace update to inference"):
        call.run()
    for k, b in before.items():
        assert same_bits(call.kwargs[k], b), f"'{k}' was written"
