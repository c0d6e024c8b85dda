#!/usr/bin/env python3
"""Sweep launch policies on a GPU: for each build (a source tree with its own
compiled aiter._C) and each AITER_LAUNCH_TUNE setting, run
op_tests/bench_rmsnorm.py in a fresh process on the chosen cases and print
ours as % of copy bandwidth, one column per (build, setting).

  python3 tools/sweep_launch.py --tune "" "short_chunks=2" "grid_waves=0" \\
      --cases qk_q_strided 2d_h16384 --tokens 8192 32768
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_one(build: Path, tune: str, args) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        env = dict(os.environ, PYTHONPATH=str(build))
        if tune:
            env["AITER_LAUNCH_TUNE"] = tune
        else:
            env.pop("AITER_LAUNCH_TUNE", None)
        cmd = [sys.executable, str(build / "op_tests" / "bench_rmsnorm.py"), "--no-compile", "--no-liger", "--no-flashinfer",
               "--host-iters", "0", "--dtype", *args.dtype, "--cases", *args.cases,
               "--tokens", *map(str, args.tokens), "--rep", str(args.rep), "--rounds", str(args.rounds), "--json", f.name]
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        rows = json.load(open(f.name))["rows"]
    return {(r["case"], r["dtype"], r["T"]): r for r in rows if r["impl"] == "ours"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", nargs="+", default=[str(ROOT)], help="source trees with a built aiter._C")
    p.add_argument("--tune", nargs="+", default=[""], help="AITER_LAUNCH_TUNE values ('' = defaults)")
    p.add_argument("--cases", nargs="+", required=True)
    p.add_argument("--tokens", nargs="+", type=int, default=[8192, 32768])
    p.add_argument("--dtype", nargs="+", default=["bf16"])
    p.add_argument("--rep", type=float, default=50)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    columns = [(Path(b), t) for b in args.build for t in args.tune]
    results = [run_one(b, t, args) for b, t in columns]
    names = [f"{b.name}:{t or 'default'}" for b, t in columns]
    print("| case | dtype | T | " + " | ".join(names) + " |")
    print("|---|---|---:|" + "---:|" * len(names))
    for key in sorted(results[0], key=lambda k: (k[0], k[1], k[2])):
        cells = []
        for res in results:
            r = res.get(key)
            cells.append(f"{r['pct_copy']:.0f}% {r['us']:.1f}us ±{100 * (r.get('spread') or 0):.0f}%"
                         if r and r.get("pct_copy") else "—")
        print(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
