"""Upstream aiter's test helpers (``aiter.test_common``), so its op_tests run
here unchanged: ``checkAllclose``, ``perftest`` and ``benchmark``.

checkAllclose(a, b, rtol=1e-2, atol=1e-2, tol_err_ratio=0.05, msg="", ...)
    Compares elementwise with torch.isclose and logs the verdict through
    ``aiter.logger``: ``passed~`` (all close; returns 0), ``warning!`` (at
    most tol_err_ratio of the elements differ), ``failed!`` (more) or
    ``catastrophic!``. Returns the fraction of elements that differ. It
    raises (AssertionError) only on a catastrophic difference: one larger
    than ``max_abs_delta`` when that is given, or with
    ``catastrophic_check=True`` a NaN/inf in either tensor or a difference
    above half of max(|b|.max(), 1).

perftest(num_iters=101, num_warmup=2, testGraph=False, num_rotate_args=0,
         needTrace=False, use_cuda_event=False)
    A decorator: the wrapped function returns ``(result, average us per
    call)``. The result is that of one call on the caller's own arguments;
    the warm-up and timed calls run on deep copies of the arguments
    (aliasing kept, so views stay views), so timing an in-place op does not
    change the result it returns or the caller's tensors beyond that one
    call. On a GPU the calls rotate over enough copies to exceed twice the
    L2 cache (``num_rotate_args`` fixes the count) and are timed between
    CUDA events (``testGraph``: replayed from a CUDA graph; ``needTrace``:
    a profiler trace under ./aiter_logs). On the CPU no extra warm-up is
    run and timing stops after ``num_iters`` calls or AITER_PERFTEST_CPU_S
    seconds (default 0.1), whichever comes first: CPU timings are a
    smoke signal, and upstream's shapes would otherwise take hours.

benchmark()
    A decorator: logs the call's arguments and returns them as a dict,
    updated with the dict the function returns (upstream tests collect these
    rows into a table).

Beyond upstream, strict mode: with AITER_TEST_STRICT=1 a process in which any
checkAllclose failed (``failed!`` or ``catastrophic!``) exits with status 1
(upstream only logs, so a run cannot be asserted). At exit the tally is
logged, and with AITER_TEST_SUMMARY=<path> written there as JSON
(``checks``, ``passed``, ``warned``, ``failed``), which
op_tests/run_upstream_norm_tests.py reads.
"""
import atexit
import copy
import functools
import inspect
import json
import logging
import math
import os
import sys
import time

import torch

from .log import logger

_GREEN, _YELLOW, _RED, _RESET = "\033[32m", "\033[33m", "\033[31m", "\033[0m"


# ------------------------------------------------------------ the tally, strict mode
class _Tally:
    def __init__(self):
        self.checks = self.passed = self.warned = self.failed = 0

    def add(self, verdict: str):
        self.checks += 1
        setattr(self, verdict, getattr(self, verdict) + 1)

    def as_dict(self):
        return {"checks": self.checks, "passed": self.passed, "warned": self.warned, "failed": self.failed}


_tally = _Tally()


def check_tally() -> dict:
    """This process's checkAllclose counts so far (ours; not upstream's)."""
    return _tally.as_dict()


def _strict() -> bool:
    return os.environ.get("AITER_TEST_STRICT", "0").strip().lower() not in ("", "0", "false", "no")


def _report_at_exit():
    counts = _tally.as_dict()
    if counts["checks"]:
        logger.info("checkAllclose tally: %(checks)d checks, %(passed)d passed, %(warned)d warned "
                    "(within tol_err_ratio), %(failed)d failed", counts)
    path = os.environ.get("AITER_TEST_SUMMARY")
    if path:
        with open(path, "w") as f:
            json.dump(counts, f)
    if counts["failed"] and _strict():
        # The exit status can only be changed by leaving now; flush what
        # later exit handlers would have flushed.
        logger.error("AITER_TEST_STRICT: %d checkAllclose check(s) failed", counts["failed"])
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


atexit.register(_report_at_exit)


# ------------------------------------------------------------ checkAllclose
def _catastrophic(a, b, max_delta, max_abs_delta, catastrophic_check) -> bool:
    if max_abs_delta is not None:  # the caller's hard cap comes first
        return max_delta > max_abs_delta
    if not catastrophic_check:
        return False
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        return True
    if not b.is_floating_point():  # no magnitude to compare indices with
        return False
    return max_delta > 0.5 * max(b.abs().max().item(), 1.0)


def _mismatches(a, b, close):
    """The differing elements of a and b and their absolute differences
    (on the host if the device cannot index them)."""
    try:
        keep = ~close
        return a[keep], b[keep], (a[keep] - b[keep]).abs()
    except RuntimeError:
        keep = ~close.cpu()
        a, b = a.cpu(), b.cpu()
        return a[keep], b[keep], (a[keep] - b[keep]).abs()


def checkAllclose(a, b, rtol=1e-2, atol=1e-2, tol_err_ratio=0.05, msg="", printNum=8, printLog=True,
                  max_abs_delta=None, catastrophic_check=False):
    close = torch.isclose(a, b, rtol=rtol, atol=atol)
    if close.all():
        _tally.add("passed")
        if printLog:
            logger.info(f"{msg}[checkAllclose {atol=} {rtol=} {_GREEN}passed~{_RESET}]")
        return 0
    count = int((~close).sum().item())
    ratio = count / a.numel()
    a_bad, b_bad, delta = _mismatches(a, b, close)
    max_delta = delta.max().item()
    fatal = _catastrophic(a, b, max_delta, max_abs_delta, catastrophic_check)
    _tally.add("failed" if fatal or ratio > tol_err_ratio else "warned")
    if not printLog:  # the quiet form (tuners): a number, no exception
        return 1.0 if fatal and ratio < tol_err_ratio else ratio
    shown = min(printNum, count)
    detail = (f"\n    a    : {tuple(a.shape)}\n           {a_bad[:shown]}"
              f"\n    b    : {tuple(b.shape)}\n           {b_bad[:shown]}"
              f"\n    delta:\n           {delta[:shown]}")
    if fatal:
        logger.info(f"{msg}[checkAllclose {atol=} {rtol=} {_RED}catastrophic!{_RESET}] "
                    f"max abs delta {max_delta:.4f}{detail}")
    elif ratio > tol_err_ratio:
        logger.info(f"{msg}[checkAllclose {atol=} {rtol=} {_RED}failed!{_RESET}]{detail}")
    else:
        logger.info(f"{msg}[checkAllclose {atol=} {rtol=} {_YELLOW}warning!{_RESET}] "
                    f"a and b results are not all close")
    logger.info(f"-->max abs delta:{max_delta}, delta details: {ratio:.1%} ({count} of {a.numel()}) elements")
    if fatal:
        raise AssertionError(f"{msg}catastrophic error: max abs delta {max_delta:.4f}, "
                             f"{ratio:.1%} ({count} of {a.numel()}) elements mismatch")
    return ratio


# ------------------------------------------------------------ perftest
def _tensors(obj):
    """Every tensor in the arguments (through lists, tuples and dicts)."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors(item)


def _timing_device(args, kwargs) -> torch.device:
    for t in _tensors((args, kwargs)):
        if t.device.type != "cpu":
            return t.device
    default = torch.get_default_device()
    return default if default.type == "cuda" else torch.device("cpu")


def _argument_bytes(args, kwargs) -> int:
    """Bytes of the distinct storages the arguments use (views counted once)."""
    seen = {}
    for t in _tensors((args, kwargs)):
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values()) + 1


def _rotation(args, kwargs, device, num_rotate_args, num_iters) -> int:
    """How many argument copies the GPU timing cycles through: enough to
    exceed twice the L2 cache (each call then reads from memory, as in a
    model), within half the free memory and at most one per timed call."""
    if num_rotate_args >= 1:
        return min(num_rotate_args, num_iters)
    size = _argument_bytes(args, kwargs)
    l2 = getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 4 << 20)
    free = torch.cuda.mem_get_info(device)[0]
    wanted = math.ceil(2 * l2 / size)
    affordable = max(1, int(0.5 * free) // size)
    return max(1, min(wanted, affordable, num_iters))


def _time_gpu(func, copies, device, num_iters, num_warmup, testGraph, needTrace) -> float:
    for i in range(num_warmup):
        func(*copies[i % len(copies)][0], **copies[i % len(copies)][1])
    torch.cuda.synchronize(device)

    def timed_calls():
        for i in range(num_iters):
            a, k = copies[i % len(copies)]
            func(*a, **k)

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    if testGraph:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            timed_calls()
        run = graph.replay
    else:
        run = timed_calls
    if needTrace:
        trace = torch.profiler.tensorboard_trace_handler(f"./aiter_logs/gpu_id_{device.index or 0}")
        with torch.profiler.profile(on_trace_ready=trace):
            start.record()
            run()
            end.record()
    else:
        start.record()
        run()
        end.record()
    end.synchronize()
    return start.elapsed_time(end) * 1000.0 / num_iters


def _time_cpu(func, copies, num_iters) -> float:
    budget = float(os.environ.get("AITER_PERFTEST_CPU_S", "0.1"))
    a, k = copies[0]
    calls, begin = 0, time.perf_counter()
    while calls < num_iters:
        func(*a, **k)
        calls += 1
        if time.perf_counter() - begin >= budget:
            break
    return (time.perf_counter() - begin) * 1e6 / calls


def perftest(num_iters=101, num_warmup=2, testGraph=False, num_rotate_args=0, needTrace=False,
             use_cuda_event=False):
    # use_cuda_event: upstream's other GPU timer; CUDA events are the only one here.
    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            iters = max(1, num_iters)  # an average needs a timed call
            device = _timing_device(args, kwargs)
            on_gpu = device.type == "cuda"
            count = _rotation(args, kwargs, device, num_rotate_args, iters) if on_gpu else 1
            # Copied before the caller's call: that call may write its arguments.
            copies = [copy.deepcopy((args, kwargs)) for _ in range(count)]
            data = func(*args, **kwargs)
            if on_gpu:
                avg = _time_gpu(func, copies, device, iters, num_warmup, testGraph, needTrace)
            else:
                avg = _time_cpu(func, copies, iters)
            return data, avg

        return wrapper

    return decorator


# ------------------------------------------------------------ benchmark
def _describe(value):
    if isinstance(value, torch.Tensor):
        return f"Tensor(shape={tuple(value.shape)}, dtype={value.dtype}, device={value.device})"
    if isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    return repr(value)


def benchmark():
    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            bound = inspect.signature(func).bind(*args, **kwargs)
            bound.apply_defaults()
            row = dict(bound.arguments)
            lines = ",\n    ".join(f"{name} = {_describe(value)}" for name, value in row.items())
            logger.info(f"calling {func.__name__}(\n    {lines})")
            result = func(*args, **kwargs)
            if result is not None:
                row.update(result)
            return row

        return wrapper

    return decorator
