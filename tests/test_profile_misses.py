"""The miss list that tools/profile_misses.py profiles, and its ncu listing
parser (CPU: no ncu runs here)."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "op_tests"))
sys.path.insert(0, str(ROOT / "tools"))
import bench_targets  # noqa: E402
import profile_misses  # noqa: E402


def run_rows(cells):
    """A bench JSON's rows from {(case, T): {impl: us}}."""
    return {"rows": [{"dtype": "bf16", "case": c, "T": T, "impl": i, "us": us}
                     for (c, T), imps in cells.items() for i, us in imps.items()]}


def test_misses_are_the_peer_targets_misses():
    data = run_rows({
        ("2d_h4096", 8192): {"ours": 10.0, "compile": 9.7, "liger": 12.0, "copy": 9.8},     # 0.97x: miss
        ("2d_h4096", 1024): {"ours": 10.0, "compile": 9.9, "copy": 9.0},                    # 0.99x: met
        ("qk_k_strided", 1024): {"ours": 10.0, "compile": 10.0, "copy": 9.0},               # level: not ahead
        ("2d_h2048", 8): {"ours": 5.0, "liger": 4.5, "compile": 6.0, "copy": 4.6},          # 0.90x: miss
        ("2d_h2048", 32): {"ours": 5.0, "liger": 4.8, "copy": 4.6},                         # 0.96x: met
        ("2d_h2048", 128): {"ours": 5.0, "liger": 1.0},                                     # no target at 128
    })
    misses = bench_targets.peer_misses(data)
    assert [(c, T, p) for c, T, p, _ in misses] == [("2d_h2048", 8, "liger"), ("2d_h4096", 8192, "compile"),
                                                    ("qk_k_strided", 1024, "compile")]
    assert misses[0][3] == pytest.approx(0.9)
    # The same cells the report lists under the three peer targets.
    reported = {cell for name, _, ms, _ in bench_targets.check(data, "bf16") if "fastest peer" in name
                or "ahead of every peer" in name for cell, _ in ms}
    assert reported == {(c, T) for c, T, _, _ in misses}


def test_committed_h100_run_lists_its_documented_worst_miss():
    data = json.loads((ROOT / "docs/benchmarks/h100.json").read_text())
    case, T, peer, ratio = bench_targets.peer_misses(data)[0]
    assert (case, T, peer) == ("add_qk_strided", 1024, "compile") and ratio < 0.98


LISTING = '''==PROF== Connected
"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size","Grid Size","Device","CC","Section Name","Metric Name","Metric Unit","Metric Value"
"0","1","python3","h","void norm_rows<bf16, 8>(Params)","1","7","(256, 1, 1)","(2048, 1, 1)","0","9.0","GPU Speed Of Light Throughput","Duration","usecond","11.46"
"0","1","python3","h","void norm_rows<bf16, 8>(Params)","1","7","(256, 1, 1)","(2048, 1, 1)","0","9.0","GPU Speed Of Light Throughput","DRAM Throughput","%","48.5"
"0","1","python3","h","void norm_rows<bf16, 8>(Params)","1","7","(256, 1, 1)","(2048, 1, 1)","0","9.0","Launch Statistics","Grid Size","","2,048"
"0","1","python3","h","void norm_rows<bf16, 8>(Params)","1","7","(256, 1, 1)","(2048, 1, 1)","0","9.0","Occupancy","Achieved Occupancy","%","n/a"
"1","1","python3","h","triton_red_fused_0","1","7","(64, 1, 1)","(1024, 1, 1)","0","9.0","GPU Speed Of Light Throughput","Duration","nsecond","10,980"
'''


def test_listing_parser_converts_units_and_keeps_launch_order():
    kernels = profile_misses.parse_details(LISTING)
    assert [k["kernel"] for k in kernels] == ["norm_rows", "triton_red_fused_0"]
    assert kernels[0]["us"] == pytest.approx(11.46) and kernels[1]["us"] == pytest.approx(10.98)
    assert kernels[0]["grid"] == 2048 and kernels[0]["dram"] == pytest.approx(48.5)
    assert "occ" not in kernels[0]        # "n/a" is left out, not read as a number
    row = profile_misses.table([(("add_qk_strided", 1024, "compile", 0.92), "ours", kernels)])
    assert "| 2048 x ? |" in row and "all 2 kernels | | | | | | 22.44 |" in row


def test_dry_run_names_ours_and_the_peer_for_each_miss(capsys):
    profile_misses.main([str(ROOT / "docs/benchmarks/h100.json"), "--dry-run", "--limit", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[-3:] for line in lines] == [["add_qk_strided", "1024", "ours"],
                                                      ["add_qk_strided", "1024", "compile"]]
