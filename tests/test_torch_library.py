"""torch.library.opcheck over the three registered ops.

opcheck runs, per sample: test_schema (the mutation annotations match what the
kernel really writes), test_autograd_registration, test_faketensor (the fake
impls in aiter/ops/fake.py agree with the real op on metadata) and
test_aot_dispatch_dynamic (AOTAutograd functionalises the mutating op with
dynamic shapes and the result matches eager). All four apply to these ops, so
the default test_utils is used throughout; nothing is skipped.
"""
import pytest
import torch

import aiter  # noqa: F401  (registers the ops and fake impls)

EPS = 1e-6
T = 5  # tokens
HQ, HKV, D = 4, 2, 16  # small Qwen3-like head geometry
HIDDEN = 96

ops = torch.ops.aiter


def _packed_qkv(device, dtype, t=T):
    """A packed QKV projection output and its Q/K slices viewed as (T, H, D):
    strides (row, D, 1), the last dim dense, so they are read in place."""
    qkv = torch.randn(t, (HQ + 2 * HKV) * D, device=device, dtype=dtype)
    q = qkv[:, : HQ * D].view(t, HQ, D)
    k = qkv[:, HQ * D : (HQ + HKV) * D].view(t, HKV, D)
    return qkv, q, k


def _weight(n, device, dtype):
    return torch.randn(n, device=device, dtype=dtype)


def _rmsnorm_samples(device):
    for dtype in (torch.float32, torch.bfloat16):
        _, q, k = _packed_qkv(device, dtype)
        w = _weight(D, device, dtype)
        # contiguous 2D
        x = torch.randn(T, HIDDEN, device=device, dtype=dtype)
        yield "contiguous", (torch.empty_like(x), x, _weight(HIDDEN, device, dtype), EPS), {}
        # strided Q and K slices of the packed projection, contiguous out
        yield "q_slice", (torch.empty(T, HQ, D, device=device, dtype=dtype), q, w, EPS), {}
        yield "k_slice", (torch.empty(T, HKV, D, device=device, dtype=dtype), k, w, EPS), {}
        # written back into the strided slice itself (out aliases input exactly)
        _, q2, _ = _packed_qkv(device, dtype)
        yield "q_slice_in_place", (q2, q2, w, EPS), {}
        # gemma and the model-sensitive mode through the keyword arguments
        yield "q_slice_gemma", (torch.empty(T, HQ, D, device=device, dtype=dtype), q, w, EPS), {
            "gemma_norm": True,
            "use_model_sensitive_rmsnorm": 1,
        }
        # a single row
        x1 = torch.randn(1, HIDDEN, device=device, dtype=dtype)
        yield "one_row", (torch.empty_like(x1), x1, _weight(HIDDEN, device, dtype), EPS), {}


def _add_rmsnorm_samples(device):
    for dtype in (torch.float32, torch.float16):
        x = torch.randn(T, HIDDEN, device=device, dtype=dtype)
        r = torch.randn(T, HIDDEN, device=device, dtype=dtype)
        w = _weight(HIDDEN, device, dtype)
        yield "contiguous", (torch.empty_like(x), x, r, torch.empty_like(r), w, EPS), {}
        # fused add on the strided Q slice, outputs into fresh buffers
        _, q, _ = _packed_qkv(device, dtype)
        rq = torch.randn(T, HQ, D, device=device, dtype=dtype)
        wd = _weight(D, device, dtype)
        yield "q_slice", (torch.empty_like(rq), q, rq, torch.empty_like(rq), wd, EPS), {}
        # outputs are strided slices of a packed buffer too
        _, oq, _ = _packed_qkv(device, dtype)
        _, roq, _ = _packed_qkv(device, dtype)
        yield "strided_outputs", (oq, q, rq, roq, wd, EPS), {"gemma_norm": True}
        # residual updated in place (residual_out is residual_in)
        r2 = r.clone()
        yield "residual_in_place", (torch.empty_like(x), x, r2, r2, w, EPS), {}


def _fused_add_samples(device):
    for dtype in (torch.float32, torch.bfloat16):
        x = torch.randn(T, HIDDEN, device=device, dtype=dtype)
        r = torch.randn(T, HIDDEN, device=device, dtype=dtype)
        w = _weight(HIDDEN, device, dtype)
        yield "contiguous", (x, r, w, EPS), {}
        # in place on the strided K slice with a strided residual
        _, _, k = _packed_qkv(device, dtype)
        _, _, rk = _packed_qkv(device, dtype)
        yield "k_slice", (k, rk, _weight(D, device, dtype), EPS), {}
        # 3D contiguous, model-sensitive mode
        x3 = torch.randn(2, 3, HIDDEN, device=device, dtype=dtype)
        r3 = torch.randn(2, 3, HIDDEN, device=device, dtype=dtype)
        yield "3d", (x3, r3, w, EPS), {"use_model_sensitive_rmsnorm": 1}


def _run_opcheck(op, sample_iter, device):
    results = {}
    for name, args, kwargs in sample_iter(device):
        # opcheck mutates the inputs it is given while comparing, so every
        # sample above owns fresh tensors.
        res = torch.library.opcheck(op, args, kwargs)
        results[name] = res
        bad = {k: v for k, v in res.items() if v != "SUCCESS"}
        assert not bad, f"{op}: sample {name}: {bad}"
    assert results


def test_opcheck_rmsnorm(device):
    _run_opcheck(ops.rmsnorm.default, _rmsnorm_samples, device)


def test_opcheck_add_rmsnorm(device):
    _run_opcheck(ops.add_rmsnorm.default, _add_rmsnorm_samples, device)


def test_opcheck_fused_add_rmsnorm_(device):
    _run_opcheck(ops.fused_add_rmsnorm_.default, _fused_add_samples, device)


@pytest.mark.parametrize("opname", ["rmsnorm", "add_rmsnorm", "fused_add_rmsnorm_"])
def test_schema_marks_mutations(opname):
    """The schemas declare exactly the written arguments as mutable, which is
    what lets functionalisation and CUDA-graph capture treat them correctly."""
    schema = getattr(ops, opname).default._schema
    written = [a.name for a in schema.arguments if a.alias_info is not None and a.alias_info.is_write]
    expected = {
        "rmsnorm": ["out"],
        "add_rmsnorm": ["out", "residual_out"],
        "fused_add_rmsnorm_": ["input", "residual"],
    }[opname]
    assert written == expected
    assert len(schema.returns) == 0
