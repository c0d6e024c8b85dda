"""The CPU SIMT executor catches what it exists for. Each planted fault
(csrc/simt/planted_faults.cpp, a small kernel built only into the executor,
written with the compat.h functions the shipped kernels use) runs beside its
correct twin, at wave64 and warp32:
  - a reduction whose width is the literal 32: right with 32-lane warps,
    half a wave's sum with 64-lane waves;
  - a barrier removed between a shared-memory store and another thread's load;
  - a load one element past a row's end (the rows of a strided view)."""
import pytest
import torch

from aiter import simt


@pytest.mark.parametrize("target", ["gfx942", "warp32"])
def test_width_32_reduction_is_wrong_only_on_wave64(target):
    wave = simt.TARGETS[target].warp
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(5, wave, generator=gen)
    want = x.double().sum(-1)
    with simt.executor(target, raise_on_fault=False):
        for name in ("wave_sum", "wave_sum_width32"):
            out = torch.full((5,), float("nan"))
            r = simt.run_planted(name, x, out)
            assert simt.fault_count(r) == 0, r["messages"]
            right = torch.allclose(out.double(), want, atol=1e-5)
            if name == "wave_sum" or wave == 32:
                assert right, f"{name} at wave {wave}: {out} != {want}"
            else:
                # Lane 0 summed lanes 0-31 only: exactly that half.
                assert not right
                assert torch.allclose(out.double(), x[:, :32].double().sum(-1), atol=1e-5)


@pytest.mark.parametrize("target", ["gfx942", "warp32"])
def test_missing_barrier_is_a_shared_memory_race(target):
    x = torch.randn(3, 128)
    with simt.executor(target, raise_on_fault=False):
        out = torch.zeros(3, 128)
        r = simt.run_planted("rotate", x, out)
        assert simt.fault_count(r) == 0, r["messages"]
        assert torch.equal(out, x.roll(-1, dims=1))
        r = simt.run_planted("rotate_no_barrier", x, torch.zeros(3, 128))
    # Thread t loads what thread t + 1 stores in the same barrier interval:
    # before that store (nothing written yet) or after it (a race).
    assert r["faults"]["shared_race"] + r["faults"]["shared_uninit"] >= 3 * 128 - 3 * 24, r
    assert r["faults"]["shared_race"] > 0 and r["faults"]["shared_uninit"] > 0, r
    assert "no barrier between" in r["messages"] or "no thread of this block has written" in r["messages"]
    assert r["faults"]["out_of_bounds"] == 0 and r["faults"]["global_race"] == 0


@pytest.mark.parametrize("target", ["gfx942", "warp32"])
def test_load_past_a_row_is_out_of_bounds(target):
    storage = torch.randn(4, 80)
    x = storage[:, :64]  # rows of 64 in a pitch of 80: one past a row is between views
    with simt.executor(target, raise_on_fault=False):
        out = torch.zeros(4)
        r = simt.run_planted("row_sum", x, out)
        assert simt.fault_count(r) == 0, r["messages"]
        assert torch.allclose(out.double(), x.double().sum(-1), atol=1e-4)
        r = simt.run_planted("row_sum_past_end", x, torch.zeros(4))
    assert r["faults"]["out_of_bounds"] == 4, r  # one per row
    assert "'input' +256 bytes: outside every view" in r["messages"], r["messages"]

