"""Views the kernels cannot read in place are gathered, counted, and written
back into the caller's outputs; strict mode makes that an error."""
import pytest
import torch

import aiter
from helpers import assert_matches, reference_add_rmsnorm, reference_rmsnorm

EPS = 1e-6


def transposed(rows, hidden, dtype, device):
    return torch.randn(hidden, rows).to(dtype).to(device).t()  # last-dim stride = rows


def five_row_dims(dtype, device):
    base = torch.randn(2, 3, 2, 3, 2, 16).to(dtype).to(device)
    return base.permute(4, 3, 2, 1, 0, 5)  # five row dims that do not collapse


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_transposed_input_is_gathered_and_counted(device, dtype):
    x = transposed(9, 64, dtype, device)
    w = torch.randn(64).to(dtype).to(device)
    y = aiter.rms_norm(x, w, EPS)
    assert_matches(y, reference_rmsnorm(x, w, EPS), dtype, "gathered input")
    assert aiter.gather_fallback_count() == 1


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_transposed_outputs_are_written_back(device, dtype):
    x = torch.randn(9, 64).to(dtype).to(device)
    r = torch.randn(9, 64).to(dtype).to(device)
    w = torch.randn(64).to(dtype).to(device)
    out = torch.zeros(64, 9, dtype=dtype, device=device).t()
    r_out = torch.zeros(64, 9, dtype=dtype, device=device).t()
    aiter.rmsnorm2d_fwd_with_add(out, x, r, r_out, w, EPS)
    want, want_sum = reference_add_rmsnorm(x, r, w, EPS)
    assert_matches(out, want, dtype, "written-back out")
    assert torch.equal(r_out, want_sum.to(dtype))
    assert aiter.gather_fallback_count() == 1


def test_more_than_four_row_dims_is_gathered(device):
    x = five_row_dims(torch.float32, device)
    w = torch.randn(16, device=device)
    y = aiter.rms_norm(x, w, EPS)
    assert_matches(y, reference_rmsnorm(x, w, EPS), torch.float32, "five row dims")
    assert aiter.gather_fallback_count() == 1


def test_transposed_in_place_is_correct(device):
    x = transposed(9, 64, torch.float32, device)
    before = x.clone()
    w = torch.randn(64, device=device)
    aiter.rms_norm_cu(x, x, w, EPS)
    assert_matches(x, reference_rmsnorm(before, w, EPS), torch.float32, "in place, gathered")


def test_strict_mode_refuses_the_gather_and_leaves_outputs_untouched(device):
    x = transposed(9, 64, torch.float32, device)
    w = torch.randn(64, device=device)
    out = torch.full((9, 64), 3.0, device=device)
    aiter.set_strict_layout(True)
    with pytest.raises(ValueError, match=r"rms_norm_cu.*'input'.*stride \[1, 9\].*strict"):
        aiter.rms_norm_cu(out, x, w, EPS)
    assert torch.equal(out, torch.full((9, 64), 3.0, device=device))
    assert aiter.gather_fallback_count() == 0


def test_strict_mode_from_the_environment():
    import subprocess
    import sys

    code = (
        "import torch, aiter\n"
        "x = torch.randn(64, 9).t()\n"
        "try:\n"
        "    aiter.rms_norm(x, torch.ones(64), 1e-6)\n"
        "except ValueError as e:\n"
        "    print('refused' if 'strict' in str(e) else 'other')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], env={**__import__("os").environ, "AITER_STRICT_LAYOUT": "1"},
                         capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "refused"
