#!/usr/bin/env python3
"""Profiles under ncu every cell of a benchmark run that misses a peer target
(op_tests/bench_targets.py: T >= 1024 and decode against the fastest peer):
ours and that peer, one call each through tools/profile_kernels.py. The L2
is flushed before each kernel (ncu's default cache control) and clocks run
as the benchmark saw them (--clock-control none). One markdown row per
kernel: launch shape, registers, waves, occupancy, DRAM throughput, time.

  python3 tools/profile_misses.py docs/benchmarks/h200.json --md h200-misses.md [--limit 6]
  python3 tools/profile_misses.py bench.json --dry-run        (prints the ncu commands only)

Needs the GPU build, ncu with the hardware counters (a sandbox such as
gVisor hides them: ncu then fails, and each row says so) and the peer's own
setup as in the benchmark (FlashInfer's wrapper built, Liger importable).
"""
import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "op_tests"))
import bench_targets  # noqa: E402

SECTIONS = ("SpeedOfLight", "Occupancy", "LaunchStats")
# ncu metric name -> column; durations are converted to microseconds.
METRICS = {"Grid Size": "grid", "Block Size": "block", "Registers Per Thread": "regs", "Waves Per SM": "waves",
           "Theoretical Occupancy": "occ_max", "Achieved Occupancy": "occ", "DRAM Throughput": "dram",
           "Duration": "us"}
TO_US = {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3, "second": 1e6}


def profile_command(ncu: str, report: str, case: str, T: int, impl: str) -> list:
    return [ncu, "--profile-from-start", "off", "--clock-control", "none", "--force-overwrite", "--export", report,
            *[a for s in SECTIONS for a in ("--section", s)],
            sys.executable, str(ROOT / "tools" / "profile_kernels.py"), case, str(T), impl]


def parse_details(text: str) -> list:
    """Kernels of an `ncu --import R --csv --page details` listing, in launch
    order: [{"kernel": short name, column: value, ...}]."""
    rows = csv.DictReader(io.StringIO("\n".join(line for line in text.splitlines() if line.startswith('"'))))
    kernels = {}
    for r in rows:
        k = kernels.setdefault(r["ID"], {"kernel": short_name(r["Kernel Name"])})
        col = METRICS.get(r["Metric Name"])
        if col is None:
            continue
        try:
            value = float(r["Metric Value"].replace(",", ""))
        except ValueError:  # "n/a" and the like: the column shows "?"
            continue
        if col == "us":
            value *= TO_US[r["Metric Unit"]]
        k[col] = value
    return [kernels[i] for i in sorted(kernels, key=int)]


def short_name(name: str, width: int = 48) -> str:
    """The kernel's name without its template arguments and parameters."""
    cut = min((i for i in (name.find("<"), name.find("(")) if i > 0), default=len(name))
    base = name[:cut].replace("void ", "").strip()
    return base if len(base) <= width else base[:width - 3] + "..."


def profile(ncu: str, case: str, T: int, impl: str, timeout: int) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "r")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        run = subprocess.run(profile_command(ncu, report, case, T, impl), capture_output=True, text=True,
                             timeout=timeout, cwd=ROOT, env=env)
        if run.returncode != 0 or not os.path.exists(report + ".ncu-rep"):
            last = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"ncu rc {run.returncode}: {last[0]}")
        listing = subprocess.run([ncu, "--import", report + ".ncu-rep", "--csv", "--page", "details"],
                                 capture_output=True, text=True, timeout=120, check=True)
    return parse_details(listing.stdout)


def fmt(k: dict, col: str, spec: str) -> str:
    return format(k[col], spec) if col in k else "?"


def table(results: list) -> str:
    lines = ["| case | T | peer us / ours us | impl | kernel | grid x block | regs | waves | occupancy "
             "(achieved / theor.) | DRAM % | kernel us |", "|---|---:|---:|---|---|---|---:|---:|---|---:|---:|"]
    for (case, T, peer, ratio), impl, kernels in results:
        head = f"| {case} | {T} | {ratio:.2f}x vs {peer} | {impl} |"
        if isinstance(kernels, str):
            lines.append(f"{head} failed: {kernels} | | | | | | |")
            continue
        for k in kernels:
            lines.append(f"{head} `{k['kernel']}` | {fmt(k, 'grid', '.0f')} x {fmt(k, 'block', '.0f')} | "
                         f"{fmt(k, 'regs', '.0f')} | {fmt(k, 'waves', '.2f')} | {fmt(k, 'occ', '.0f')}% / "
                         f"{fmt(k, 'occ_max', '.0f')}% | {fmt(k, 'dram', '.1f')} | {fmt(k, 'us', '.2f')} |")
        if len(kernels) > 1:
            total = sum(k.get("us", 0.0) for k in kernels)
            lines.append(f"{head} all {len(kernels)} kernels | | | | | | {total:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("json", help="a bench_rmsnorm.py --json report")
    p.add_argument("--dtype", default="bf16")
    p.add_argument("--limit", type=int, default=6, help="the worst N misses (default 6)")
    p.add_argument("--ncu", default="ncu")
    p.add_argument("--timeout", type=int, default=240, help="seconds per profiled call (Inductor compiles)")
    p.add_argument("--md", help="also write the table here")
    p.add_argument("--dry-run", action="store_true", help="print the ncu commands, run nothing")
    args = p.parse_args(argv)
    misses = bench_targets.peer_misses(json.load(open(args.json)), args.dtype)[:args.limit]
    if not misses:
        print("no cell misses a peer target")
        return 0
    results = []
    for miss in misses:
        case, T, peer, _ = miss
        for impl in ("ours", peer):
            if args.dry_run:
                print(" ".join(profile_command(args.ncu, "REPORT", case, T, impl)))
                continue
            try:
                kernels = profile(args.ncu, case, T, impl, args.timeout)
            except (RuntimeError, subprocess.SubprocessError) as e:
                kernels = str(e)
            results.append((miss, impl, kernels))
            print(f"{case} T={T} {impl}: {kernels if isinstance(kernels, str) else len(kernels)} kernel(s)",
                  flush=True)
    if args.dry_run:
        return 0
    md = table(results)
    print(md)
    if args.md:
        Path(args.md).write_text(md + "\n")
    return 1 if any(isinstance(k, str) for _, _, k in results) else 0


if __name__ == "__main__":
    sys.exit(main())
