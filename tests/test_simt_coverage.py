"""Every kernel instantiation the gfx942 planner can pick runs on the CPU
SIMT executor (64-lane waves, 304 CUs) and gives the float64 reference's
results with 0 faults; and so does every one the 32-lane target picks.

The planner's reach comes from simt_sweep.plan(): the launcher's own
choose_launch over a grid at every regime edge (module docstring there). The
compile check's list (tools/codeobject_report.py) holds a few instantiations
no launch of these targets picks; each falls under one rule of unreachable():
  - the non-compact entry of the dense-row RMSNorm kernels (plain and fused
    add): every such launch fits the compact parameter block, short of an
    inner row dim of 2^32 rows or 2^31 rows in all;
  - 16-byte-vector kernels caching eight vectors a thread for RMSNorm and
    the fused Q/K norm (and LayerNorm where its blocks may take 1024
    threads): eight a thread arise only for rows that already fill a block
    at its lane cap of 1024, while a 128-byte cache caps the block at 512,
    so the planner streams those rows.
"""
import os
import sys

import pytest

from aiter import simt
from simt_sweep import plan, run_and_check

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import codeobject_report  # noqa: E402


def unreachable(key, target):
    """The rule (module docstring) that keeps `key` from `target`'s launches, or None."""
    _, vec, cached, variant, entry = key
    base, dense, sixteen_bytes = variant & 0xF, bool(variant & 0x100), vec > 1
    if dense and base in (0, 1) and entry == "":
        return "dense RMSNorm launches take the compact entry"
    full_blocks = simt.TARGETS[target].epilogue_full_blocks
    if sixteen_bytes and cached == 8 and (base in (0, 8) or (base == 4 and full_blocks)):
        return "eight 16-byte vectors a thread only at 1024 lanes, over a 128-byte cache's 512"
    return None


def executed_keys(warp):
    keys = {codeobject_report.kernel_key(name) for name in simt.executed_kernels(warp)}
    keys.discard(None)
    return keys


@pytest.mark.parametrize("target", ["gfx942", "warp32"])
def test_every_launchable_kernel_runs(target):
    t = simt.TARGETS[target]
    reach = plan(t)
    expected = codeobject_report.expected_kernels()
    assert set(reach) <= expected, f"kernels the planner picks that the compile check does not expect: " \
                                   f"{sorted(set(reach) - expected)}"
    with simt.executor(target):
        for i, (key, (case, qdtype, smooth)) in enumerate(sorted(reach.items(), key=lambda kv: str(kv[0]))):
            run_and_check(case, qdtype, smooth, seed=i)
            r = simt.report()
            assert r["launches"] == 1 and simt.fault_count(r) == 0, (key, r)
    missing = set(reach) - executed_keys(t.warp)
    assert not missing, f"planned but not run: {sorted(missing)}"
    unexplained = [k for k in expected - set(reach) if unreachable(k, target) is None]
    assert not unexplained, "instantiations no call of the grid reaches, under no rule: " + ", ".join(
        codeobject_report.short_name(k) for k in sorted(unexplained, key=codeobject_report.sort_key))
    assert not [k for k in reach if unreachable(k, target)], "a rule claims a kernel the planner picks"
