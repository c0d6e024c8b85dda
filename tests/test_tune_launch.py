"""tools/tune_launch.py: its decisions on given timings, and a CPU run of
the whole tuner (cells, bit-for-bit checks, the table it writes)."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from aiter import _C, tuning

ROOT = Path(__file__).resolve().parents[1]
TUNER = ROOT / "tools" / "tune_launch.py"


@pytest.fixture(scope="module")
def tuner():
    spec = importlib.util.spec_from_file_location("tune_launch", TUNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def h100_derived():
    return _C.derive_target(warp_size=32, sm_count=132, max_threads_per_sm=2048, max_blocks_per_sm=32,
                            async_copy=True)


def test_candidates_skip_the_default(tuner):
    derived = h100_derived()
    cands = tuner.candidates(tuning.SWEEP_GRID, derived)
    assert all(derived[k] != v for k, v, _ in cands)
    assert ("decode_slices", 2, "decode_slices=2") in cands
    assert not any(spec == "decode_slices=4" for _, _, spec in cands)
    expected = sum(sum(v != derived[k] for v in vals) for k, vals in tuning.SWEEP_GRID.items())
    assert len(cands) == expected


def test_summary_and_rules(tuner):
    s = tuner.summarise([0.9, 1.0, 1.1])
    assert s["cells"] == 3 and s["worst"] == 1.1 and s["best"] == 0.9
    assert abs(s["geomean"] - (0.9 * 1.0 * 1.1) ** (1 / 3)) < 1e-12
    assert tuner.qualifies(tuner.summarise([0.95, 0.97]), 0.01, 0.03)
    assert not tuner.qualifies(tuner.summarise([0.995, 0.999]), 0.01, 0.03)  # too small a gain
    assert not tuner.qualifies(tuner.summarise([0.80, 1.05]), 0.01, 0.03)   # one cell slower by 5%
    assert not tuner.qualifies(tuner.summarise([]), 0.01, 0.03)


def test_best_value_per_key_then_the_final_pick(tuner):
    S = tuner.summarise
    results = {"grid_waves=0": ("grid_waves", 0, S([0.97, 0.98])),
               "grid_waves=2": ("grid_waves", 2, S([0.95, 0.96])),
               "stage_rows=0": ("stage_rows", 0, S([0.90, 1.10])),   # one cell 10% slower: out
               "decode_slices=2": ("decode_slices", 2, S([0.98, 0.97]))}
    chosen = tuner.best_per_key(results, 0.01, 0.03)
    assert {k: v[0] for k, v in chosen.items()} == {"grid_waves": 2, "decode_slices": 2}
    specs = tuner.final_specs(chosen)
    assert set(specs) == {"grid_waves=2", "decode_slices=2", "decode_slices=2,grid_waves=2"}
    pass2 = {"grid_waves=2": S([0.97, 0.97]), "decode_slices=2": S([1.0, 0.99]),
             "decode_slices=2,grid_waves=2": S([0.96, 0.95])}
    assert tuner.pick(pass2, 0.01, 0.03) == "decode_slices=2,grid_waves=2"
    assert tuner.pick({"grid_waves=2": S([1.0, 1.0])}, 0.01, 0.03) == ""
    assert tuner.final_specs({}) == []


def test_cpu_run_writes_a_table(tmp_path):
    out = tmp_path / "table.json"
    proc = subprocess.run([sys.executable, str(TUNER), "--device", "cpu", "--quick", "--out", str(out),
                           "--warmup", "0.5", "--rep", "1", "--rounds", "1", "--budget-s", "120",
                           "--grid", "grid_waves=0/2", "decode_slices=1/4"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = tuning.read_table(out)  # loads as a table: bit-neutral keys, key matches the device
    assert table["key"] == _C.device_key(table["device"])
    assert set(table["pass1"]) == {"grid_waves=0", "grid_waves=2", "decode_slices=1"}  # 4 is the default
    # Three benchmark cases at T = 8 and 64, one norm-family case at 8; T-major.
    assert len(table["cells_pass1"]) == 7 and table["cells_pass1"][0] == ["qk_q_strided", 8]
    assert ["add_smoothq_int8_h4096", 8] in table["cells_pass1"][:4]
    assert table["tune"] == "" or table["chosen"]["cells"] > 0
    assert "| pass | alternative |" in proc.stdout


def test_tuner_refuses_keys_that_change_results(tmp_path):
    proc = subprocess.run([sys.executable, str(TUNER), "--device", "cpu", "--quick", "--out",
                           str(tmp_path / "t.json"), "--grid", "long_chunks=2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode != 0 and "changes how a row is reduced" in proc.stderr
    assert not (tmp_path / "t.json").exists()


def test_tuner_measures_against_the_derived_defaults(tmp_path):
    env = {**__import__("os").environ, "AITER_LAUNCH_TUNE": "grid_waves=2"}
    proc = subprocess.run([sys.executable, str(TUNER), "--device", "cpu", "--quick", "--out",
                           str(tmp_path / "t.json")], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode != 0 and "unset AITER_LAUNCH_TUNE" in proc.stderr


def test_table_json_round_trips(tmp_path, tuner):
    # summary_markdown renders whatever the tuner wrote (pass 2 may be empty).
    table = {"device": "d", "key": "d", "tune": "", "rules": {"min_gain": 0.01, "max_loss": 0.03},
             "cells_pass1": [["a", 8]], "cells_pass2": [], "seconds": 1.0,
             "pass1": {"grid_waves=2": {"key": "grid_waves", "value": 2, **tuner.summarise([1.01])}}, "pass2": {}}
    md = tuner.summary_markdown(json.loads(json.dumps(table)))
    assert "`grid_waves=2` | 1.010" in md and "(empty: derived defaults)" in md


def test_each_alternative_runs_under_its_own_spec(tuner, monkeypatch):
    """Timed interleaved, every callable (the defaults' too) must set its own
    override: the one before it leaves its spec behind."""
    seen = []

    def fake_time_rounds(timer, fns, rounds):
        order = list(fns)[::-1] + list(fns)
        for name in order:
            fns[name]()
            seen.append((name, _C.launch_tune()))
        return {name: (10.0 + i, 0.0) for i, name in enumerate(fns)}

    monkeypatch.setattr(tuner.bench, "time_rounds", fake_time_rounds)
    args = tuner.parse_args(["--device", "cpu"])
    case = next(c for c in tuner.bench.CASES if c.name == "qk_q_strided")
    with tuning.tables({}), tuning.override(""):
        ratios = tuner.cell_ratios(case, 4, ["grid_waves=2", "decode_slices=1"], args, timer=None)
        assert _C.launch_tune() == ""
    assert all(name == tune for name, tune in seen) and len(seen) == 6
    assert ratios == {"grid_waves=2": 11.0 / 10.0, "decode_slices=1": 12.0 / 10.0}
