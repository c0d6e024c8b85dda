"""Per-GPU launch tables.

A table is `aiter/tuning/<device key>.json`, written by
`tools/tune_launch.py` on that GPU: `{"device": <name>, "key": <device key>,
"tune": "key=value,...", ...}` plus the measurements that chose it. Its keys
are the launch-policy keys that do not change results (`aiter._C.tune_keys()`
with `changes_bits` False: block sizes, persistent grids, staging, which
kernel, decode splits and slices), so a row's bits are the same under every
table. The device key is CUDA's device name, or the gfx arch on ROCm, in
lower case with other characters as '_' (`aiter._C.device_key`).

At import aiter registers the tables found here (a few small JSON files; no
device is touched). The GPU launcher applies a device's table at its first
launch there, over the defaults derived from the device's properties
(`csrc/include/launch_tune.h`); a GPU without a table gets those defaults.

  AITER_LAUNCH_TABLE=off          no tables: derived defaults on every GPU
  AITER_LAUNCH_TABLE=<path.json>  that table on every GPU
  AITER_LAUNCH_TUNE=k=v,...       applied on top (experiments; any key)
"""
import contextlib
import json
import os
from pathlib import Path
from typing import Iterator, Optional

from .._backend import _C

TABLE_DIR = Path(__file__).resolve().parent
TABLE_ENV = "AITER_LAUNCH_TABLE"
OFF = ("off", "none", "0", "")

# The values tools/tune_launch.py tries for each key by default, besides the
# derived default: every key that may go into a table, a few values each
# (the launch simulation walks every one of them for warp 32 and wave64).
SWEEP_GRID = {
    "grid_waves": (0, 2),
    "stage_rows": (0, 1),
    "batch_rows": (0, 1),
    "dense_rows": (0, 1),
    "dense_prefetch": (0, 1),
    "short_threads": (128, 256, 512),
    "packed_threads": (128, 256, 512),
    "decode_split": (0, 1, 2),
    "decode_slices": (1, 2, 4, 8),
    "dense_split": (0, 1),
}


def table_paths() -> list:
    return sorted(TABLE_DIR.glob("*.json"))


def read_table(path) -> dict:
    """A table file, checked: its key matches its device name and its tune
    spec parses as a table's (no key that changes results). ValueError
    naming the file otherwise."""
    path = Path(path)
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"launch table {path}: {e}") from None
    for field in ("device", "key", "tune"):
        if not isinstance(table.get(field), str):
            raise ValueError(f"launch table {path}: needs a string '{field}'")
    if _C.device_key(table["device"]) != table["key"]:
        raise ValueError(f"launch table {path}: key '{table['key']}' is not the device key of "
                         f"'{table['device']}' ({_C.device_key(table['device'])})")
    try:
        _C.check_tune(table["tune"], table=True)
    except ValueError as e:
        raise ValueError(f"launch table {path}: {e}") from None
    return table


def tables_from_environment() -> dict:
    """{device key or '*': tune spec}: the committed tables, or what
    AITER_LAUNCH_TABLE names instead."""
    choice = os.environ.get(TABLE_ENV)
    if choice is not None and choice.strip().lower() in OFF:
        return {}
    if choice:
        return {"*": read_table(choice)["tune"]}
    tables = {}
    for path in table_paths():
        table = read_table(path)
        tables[table["key"]] = table["tune"]
    return tables


def register() -> None:
    """Hands the tables to the launcher (aiter does this at import)."""
    _C.set_launch_tables(tables_from_environment())


def device_name(index: Optional[int] = None) -> str:
    """The name a device's table is keyed by: CUDA's device name, or the gfx
    arch on ROCm."""
    import torch
    props = torch.cuda.get_device_properties(torch.cuda.current_device() if index is None else index)
    if getattr(torch.version, "hip", None):
        return props.gcnArchName
    return props.name


def current(index: Optional[int] = None) -> dict:
    """GPU builds: the launch policy in force on a device (each key's value),
    where it came from ('source'), the device's name, key and properties."""
    import torch
    return _C.launch_target(torch.cuda.current_device() if index is None else index)


def describe(index: Optional[int] = None) -> str:
    """One line for reports: the policy's source and the device key."""
    target = current(index)
    return f"{target['source']} (device key {target['device_key']})"


@contextlib.contextmanager
def override(spec: str) -> Iterator[None]:
    """Runs the block with `spec` as the launch override (on top of any
    table), then restores the previous override."""
    previous = _C.launch_tune()
    _C.set_launch_tune(spec)
    try:
        yield
    finally:
        _C.set_launch_tune(previous)


@contextlib.contextmanager
def tables(mapping: dict) -> Iterator[None]:
    """Runs the block with these tables ({key or '*': spec}; {} for none),
    then restores the previous ones."""
    previous = _C.launch_tables()
    _C.set_launch_tables(dict(mapping))
    try:
        yield
    finally:
        _C.set_launch_tables(previous)
