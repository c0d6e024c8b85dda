"""The launch policy's one place (csrc/include/launch_tune.h,
csrc/host/launch_policy.cpp, aiter/tuning): defaults derived from device
properties, the AITER_LAUNCH_TUNE / table parser, per-GPU tables and how they
layer. CPU only: the GPU launcher resolves its targets through the same code
(its effect on results: test_batch_invariance.py; on launch shapes:
test_launch_simulation.py)."""
import json
import os
import subprocess
import sys

import pytest

import aiter
from aiter import _C, tuning

# What the H100 reports (torch.cuda.get_device_properties, cudaDeviceProp).
H100 = dict(warp_size=32, sm_count=132, max_threads_per_sm=2048, max_blocks_per_sm=32, regs_per_sm=65536,
            shared_per_sm=233472, l2_bytes=50 << 20, mem_clock_khz=2619000, mem_bus_bits=5120, async_copy=True)
H200 = dict(H100, l2_bytes=60 << 20, mem_clock_khz=3201000, mem_bus_bits=6144)
GFX942 = dict(warp_size=64, sm_count=304, max_threads_per_sm=2048, regs_per_sm=0, async_copy=False)

# The policy measured on the H100 (TargetInfo's comments): the derived
# defaults must reproduce it there, so H100 launches are unchanged.
H100_POLICY = {"short_chunks": 1, "long_chunks": 4, "short_quant_chunks": 2, "short_threads": 256, "grid_waves": 1,
               "batch_rows": 1, "stage_rows": 1, "dense_rows": 1, "dense_prefetch": 1, "packed_threads": 256,
               "decode_split": 2, "decode_slices": 4, "dense_split": 1}


@pytest.fixture(autouse=True)
def _no_tables_or_override():
    with tuning.tables({}), tuning.override(""):
        yield


def test_derived_defaults_keep_the_h100_policy():
    got = _C.derive_target(**H100)
    assert {k: got[k] for k in H100_POLICY} == H100_POLICY
    assert (got["warp_size"], got["sm_count"], got["max_threads_per_sm"], got["async_copy"]) == (32, 132, 2048, 1)
    # The H200 differs in memory and L2 only: the same launches.
    assert _C.derive_target(**H200) == got


def test_derived_defaults_follow_the_device():
    amd = _C.derive_target(**GFX942)
    assert (amd["warp_size"], amd["sm_count"], amd["async_copy"]) == (64, 304, 0)
    assert amd["short_threads"] == amd["packed_threads"] == 256
    # A GPU that keeps at most 4 blocks on an SM of 2048 threads: 256-thread
    # blocks would leave half of it idle, so short and packed rows take 512.
    few_blocks = _C.derive_target(**dict(H100, max_blocks_per_sm=4))
    assert few_blocks["short_threads"] == few_blocks["packed_threads"] == 512
    assert _C.derive_target(**dict(H100, async_copy=False))["async_copy"] == 0


def test_every_key_is_listed_with_its_values():
    keys = {k["name"]: k for k in _C.tune_keys()}
    assert set(keys) == set(H100_POLICY)
    assert {n for n, k in keys.items() if k["changes_bits"]} == {"short_chunks", "long_chunks", "short_quant_chunks"}
    for name, k in keys.items():
        _C.check_tune(f"{name}={k['lo']}")
        _C.check_tune(f"{name}={k['hi']}")
        with pytest.raises(ValueError, match=name):
            _C.check_tune(f"{name}={k['hi'] + 1}")


@pytest.mark.parametrize("spec,error", [
    ("nope=1", "unknown key 'nope'"),
    ("grid_waves", "expected key=value"),
    ("grid_waves=-1", r"grid_waves takes an integer in \[0, 8\]"),
    ("grid_waves=1x", "grid_waves takes an integer"),
    ("short_threads=96", "short_threads takes a power of two"),
    ("grid_waves=1,,stage_rows=0", "empty item"),
])
def test_bad_specs_are_refused(spec, error):
    with pytest.raises(ValueError, match=error):
        _C.check_tune(spec)
    with pytest.raises(ValueError, match=error):
        _C.set_launch_tune(spec)
    assert _C.launch_tune() == ""  # unchanged


def test_tables_may_not_change_results():
    _C.check_tune("long_chunks=8")  # an experiment may
    with pytest.raises(ValueError, match="changes how a row is reduced"):
        _C.check_tune("long_chunks=8", table=True)
    with pytest.raises(ValueError, match="launch table 'x'"):
        _C.set_launch_tables({"x": "grid_waves=0,short_chunks=2"})
    assert _C.launch_tables() == {}


@pytest.mark.parametrize("name,key", [("NVIDIA H100 80GB HBM3", "nvidia_h100_80gb_hbm3"), ("NVIDIA H200", "nvidia_h200"),
                                      ("gfx942:sramecc+:xnack-", "gfx942"), ("  A--b ", "a_b")])
def test_device_key(name, key):
    assert _C.device_key(name) == key


def test_tables_and_override_layer_over_the_derived_defaults():
    def resolve(name):
        return _C.resolve_target(name, **H100)

    assert resolve("NVIDIA H100 80GB HBM3")["source"] == "derived"
    with tuning.tables({"nvidia_h100_80gb_hbm3": "decode_slices=2,grid_waves=2"}):
        h100 = resolve("NVIDIA H100 80GB HBM3")
        assert (h100["decode_slices"], h100["grid_waves"]) == (2, 2)
        assert h100["source"] == "derived + table nvidia_h100_80gb_hbm3 'decode_slices=2,grid_waves=2'"
        assert resolve("NVIDIA H200")["source"] == "derived"  # no table of its own
        with tuning.override("grid_waves=0,long_chunks=2"):
            both = resolve("NVIDIA H100 80GB HBM3")
            assert (both["decode_slices"], both["grid_waves"], both["long_chunks"]) == (2, 0, 2)
            assert both["source"].endswith("+ override 'grid_waves=0,long_chunks=2'")
        assert _C.launch_tune() == ""
    with tuning.tables({"*": "stage_rows=0"}):
        assert resolve("anything")["stage_rows"] == 0
    assert _C.launch_tables() == {}


def test_policy_generation_moves_with_every_change():
    # The GPU launcher keeps a device's resolved target while this holds still.
    seen = [_C.launch_policy_generation()]
    with tuning.tables({"*": ""}):
        seen.append(_C.launch_policy_generation())
        with tuning.override("grid_waves=2"):
            seen.append(_C.launch_policy_generation())
            assert _C.launch_tune() == "grid_waves=2"
        seen.append(_C.launch_policy_generation())
        with pytest.raises(ValueError):
            _C.set_launch_tune("grid_waves=99")  # refused: nothing changes
        assert _C.launch_policy_generation() == seen[-1]
    seen.append(_C.launch_policy_generation())
    assert seen == sorted(set(seen)), seen


def write_table(path, device="NVIDIA H100 80GB HBM3", tune="decode_slices=2", **extra):
    path.write_text(json.dumps(dict(device=device, key=_C.device_key(device), tune=tune, **extra)))
    return path


def test_read_table_checks_the_file(tmp_path):
    assert tuning.read_table(write_table(tmp_path / "a.json"))["tune"] == "decode_slices=2"
    with pytest.raises(ValueError, match="changes how a row is reduced"):
        tuning.read_table(write_table(tmp_path / "b.json", tune="long_chunks=2"))
    bad_key = tmp_path / "c.json"
    bad_key.write_text(json.dumps(dict(device="NVIDIA H200", key="nvidia_h100", tune="")))
    with pytest.raises(ValueError, match="not the device key"):
        tuning.read_table(bad_key)
    (tmp_path / "d.json").write_text("{")
    with pytest.raises(ValueError, match="d.json"):
        tuning.read_table(tmp_path / "d.json")
    (tmp_path / "e.json").write_text(json.dumps(dict(device="x", key="x")))
    with pytest.raises(ValueError, match="'tune'"):
        tuning.read_table(tmp_path / "e.json")


def test_committed_tables_load_and_are_named_by_their_key():
    for path in tuning.table_paths():
        table = tuning.read_table(path)
        assert path.stem == table["key"], path
        # Every key a table sets is one the tuner sweeps.
        for item in filter(None, table["tune"].split(",")):
            assert item.split("=")[0].strip() in tuning.SWEEP_GRID, (path, item)


def _tables_in_child(env_value):
    env = dict(os.environ)
    env.pop("AITER_LAUNCH_TUNE", None)
    if env_value is None:
        env.pop("AITER_LAUNCH_TABLE", None)
    else:
        env["AITER_LAUNCH_TABLE"] = str(env_value)
    out = subprocess.run([sys.executable, "-c", "import aiter, json; print(json.dumps(aiter._C.launch_tables()))"],
                         env=env, capture_output=True, text=True, check=True, cwd="/")
    return json.loads(out.stdout)


def test_import_registers_the_tables(tmp_path):
    committed = {tuning.read_table(p)["key"]: tuning.read_table(p)["tune"] for p in tuning.table_paths()}
    assert _tables_in_child(None) == committed
    assert _tables_in_child("off") == {}
    path = write_table(tmp_path / "forced.json", tune="grid_waves=2")
    assert _tables_in_child(path) == {"*": "grid_waves=2"}


def test_sweep_grid_holds_table_keys_only():
    table_keys = {k["name"] for k in _C.tune_keys() if not k["changes_bits"]}
    assert set(tuning.SWEEP_GRID) == table_keys
    for key, values in tuning.SWEEP_GRID.items():
        for v in values:
            _C.check_tune(f"{key}={v}", table=True)


def test_gpu_target_needs_a_gpu_build():
    if aiter.gpu_backend_available():
        pytest.skip("a GPU build")
    with pytest.raises(RuntimeError, match="no GPU backend"):
        _C.launch_target(0)
