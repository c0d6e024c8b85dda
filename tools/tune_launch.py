#!/usr/bin/env python3
"""Tune the launch policy on this GPU and write its table
(aiter/tuning/<device key>.json, loaded by aiter at first use on that GPU).

  python3 tools/tune_launch.py                      # writes aiter/tuning/<device key>.json (--budget-s: 150 s)
  python3 tools/tune_launch.py --budget-s 90 --out table.json
  python3 tools/tune_launch.py --device cpu --quick --out /tmp/t.json   # CPU smoke run of the machinery

It times the benchmark's cases (op_tests/bench_rmsnorm.py: same data, same
interleaved CUDA-event timer with the L2 flushed before each call) and a few
of the norm family's (op_tests/bench_norm_family.py: quantising RMSNorm,
LayerNorm) on a set of cells (case x T). In each cell the derived defaults
(no table) and every alternative value of every table key
(aiter.tuning.SWEEP_GRID, or --grid) run in one interleaved loop, each
alternative switched in call by call through the launch override, so all
run under the same clocks.

Pass 1 compares each single-key change with the defaults: a value qualifies
where the geometric mean of its per-cell time ratios is at most
1 - --min-gain and no cell is more than --max-loss slower; each key keeps
its best qualifying value. Pass 2 times the qualifying keys together and
each alone against the defaults again and keeps the best that still
qualifies, or none (an empty table: the derived defaults measured best).

Tuning never changes results: table keys do not change how a row is reduced,
and before timing a cell every alternative's outputs are compared with the
defaults' bit for bit (a difference aborts the run).

--budget-s bounds the run's time after start-up: pass 1 stops taking new
cells at 65% of it, pass 2 at 100%; each decides on the cells it finished.
"""
import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "op_tests"))

import torch  # noqa: E402

import aiter  # noqa: E402
from aiter import _C, tuning  # noqa: E402
import bench_norm_family as family  # noqa: E402
import bench_rmsnorm as bench  # noqa: E402

# Cells the tuner times: the benchmark's layouts where the targets
# are (Q/K slices, 2D and row-strided rows short and long, the fused adds),
# at decode, mid-size and bandwidth-bound T.
CASES = ("qk_q_strided", "qk_k_strided", "qk_q_contig", "2d_h2048", "2d_h4096_rowstrided", "2d_h8192",
         "2d_h16384_rowstrided", "add_h4096", "add_qk_strided")
TOKENS = (8192, 1024, 8, 32768)  # pass order: a run cut short by its budget still covers each regime early
# The same keys steer the rest of the norm family (quantising RMSNorm,
# LayerNorm): a few of op_tests/bench_norm_family.py's cases (those whose op
# leaves its inputs alone, so outputs compare bit for bit) at decode and
# bandwidth-bound T.
FAMILY_CASES = ("dynq_fp8_h4096", "groupq_fp8_h4096_g128", "add_smoothq_int8_h4096", "layernorm_h4096")
FAMILY_TOKENS = (8192, 8)
QUICK_CASES = ("qk_q_strided", "2d_h4096", "add_h4096")
QUICK_TOKENS = (8, 64)
QUICK_FAMILY = ("add_smoothq_int8_h4096",)
PASS1_SHARE = 0.65


# ----------------------------------------------------------------------------
# Decisions (pure: tested on the CPU)
# ----------------------------------------------------------------------------

def candidates(grid: dict, derived: dict) -> list:
    """[(key, value, spec)] of every grid value that differs from the derived default."""
    out = []
    for key, values in grid.items():
        for v in values:
            if v != derived[key]:
                out.append((key, v, f"{key}={v}"))
    return out


def summarise(ratios: list) -> dict:
    """Per-cell time ratios (candidate / defaults) -> geomean, worst, best, cells."""
    if not ratios:
        return {"geomean": None, "worst": None, "best": None, "cells": 0}
    return {"geomean": math.exp(sum(math.log(r) for r in ratios) / len(ratios)),
            "worst": max(ratios), "best": min(ratios), "cells": len(ratios)}


def qualifies(summary: dict, min_gain: float, max_loss: float) -> bool:
    return (summary["cells"] > 0 and summary["geomean"] <= 1.0 - min_gain
            and summary["worst"] <= 1.0 + max_loss)


def best_per_key(results: dict, min_gain: float, max_loss: float) -> dict:
    """{key: (value, spec, summary)}: each key's qualifying value of lowest geomean.
    `results`: {spec: (key, value, summary)}."""
    chosen = {}
    for spec, (key, value, summary) in results.items():
        if qualifies(summary, min_gain, max_loss):
            if key not in chosen or summary["geomean"] < chosen[key][2]["geomean"]:
                chosen[key] = (value, spec, summary)
    return chosen


def final_specs(chosen: dict) -> list:
    """Pass 2's contenders: every chosen key alone, and all of them together."""
    singles = [spec for _, spec, _ in chosen.values()]
    together = ",".join(f"{k}={chosen[k][0]}" for k in sorted(chosen))
    return singles + ([together] if len(chosen) > 1 else [])


def pick(results: dict, min_gain: float, max_loss: float) -> str:
    """The qualifying spec of lowest geomean, or '' (the defaults)."""
    ok = [(s["geomean"], spec) for spec, s in results.items() if qualifies(s, min_gain, max_loss)]
    return min(ok)[1] if ok else ""


# ----------------------------------------------------------------------------
# Measuring
# ----------------------------------------------------------------------------

def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _outputs(out) -> tuple:
    return tuple(t.clone() for t in (out if isinstance(out, (tuple, list)) else (out,)))


def cell_ratios(cell, T: int, specs: list, args, timer) -> dict:
    """{spec: time / defaults' time} on one cell (a benchmark case or a
    norm-family case at T), all specs and the defaults interleaved; every
    spec's outputs checked bit for bit first."""
    dtype = bench.DTYPES[args.dtype]
    if isinstance(cell, str):
        ours = family.CASES[cell](T, dtype, args.device, args.eps).ours
        name = cell
    else:
        ours = bench.build_ours(bench.make_data(cell, T, dtype, args.device, args.eps))
        name = cell.name

    def under(spec):
        """ours with `spec` as the override: every call sets its own (the
        calls of the others interleave with it)."""
        def fn():
            _C.set_launch_tune(spec)
            return ours()
        return fn

    fns = {"": under("")}
    want = _outputs(fns[""]())
    for spec in specs:
        fn = under(spec)
        got = _outputs(fn())
        for g, w in zip(got, want):
            if not torch.equal(g, w):
                raise SystemExit(f"tuning changed results: {spec} on {name} T={T} "
                                 f"(max diff {(g.float() - w.float()).abs().max().item():.3g}); not a table key")
        fns[spec] = fn
    times = bench.time_rounds(timer, fns, args.rounds)
    _C.set_launch_tune("")
    base = times[""][0]
    return {spec: times[spec][0] / base for spec in specs}


def cell_name(cell) -> str:
    return cell if isinstance(cell, str) else cell.name


def run_pass(name: str, cells: list, specs: list, args, timer, deadline: float) -> tuple:
    """({spec: [ratio per finished cell]}, finished cells as (name, T))."""
    ratios = {spec: [] for spec in specs}
    done = []
    for cell, T in cells:
        if done and time.monotonic() > deadline:
            log(f"{name}: budget reached after {len(done)}/{len(cells)} cells")
            break
        t0 = time.monotonic()
        r = cell_ratios(cell, T, specs, args, timer)
        for spec in specs:
            ratios[spec].append(r[spec])
        done.append((cell_name(cell), T))
        best = min(r, key=r.get) if r else None
        log(f"{name}: {cell_name(cell)} T={T}: {len(specs)} alternatives, best {best} {r.get(best, 1):.3f}x "
            f"({time.monotonic() - t0:.1f} s)")
        if args.device == "cuda":
            torch.cuda.empty_cache()
    return ratios, done


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------

def parse_grid(items) -> dict:
    if not items:
        return dict(tuning.SWEEP_GRID)
    grid = {}
    for item in items:  # key=v1/v2/...
        key, _, values = item.partition("=")
        grid[key] = tuple(int(v) for v in values.split("/") if v)
    return grid


def git_commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except Exception:
        return None


def device_description(args) -> tuple:
    """(device name, derived defaults as a dict, properties dict)."""
    if args.device == "cuda":
        target = tuning.current()
        derived = {k: target[k] for k in target if k not in ("source", "device_name", "device_key", "properties")}
        return target["device_name"], derived, target["properties"]
    # CPU smoke run: H100-like properties, so the grid has something to differ from.
    derived = _C.derive_target(warp_size=32, sm_count=132, max_threads_per_sm=2048, max_blocks_per_sm=32,
                               async_copy=True)
    return f"cpu {platform.machine()}", derived, {}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--out", help="table path (default aiter/tuning/<device key>.json)")
    p.add_argument("--budget-s", type=float, default=150.0, help="time for both passes, after start-up")
    p.add_argument("--cases", nargs="+", help=f"default {CASES}")
    p.add_argument("--tokens", nargs="+", type=int, help=f"default {TOKENS}")
    p.add_argument("--family-cases", nargs="*", help=f"bench_norm_family.py cases (default {FAMILY_CASES})")
    p.add_argument("--family-tokens", nargs="+", type=int, help=f"default {FAMILY_TOKENS}")
    p.add_argument("--grid", nargs="+", metavar="KEY=V1/V2", help="values to try (default aiter.tuning.SWEEP_GRID)")
    p.add_argument("--min-gain", type=float, default=0.01, help="geomean speed-up a change must bring")
    p.add_argument("--max-loss", type=float, default=0.03, help="most any cell may slow down")
    p.add_argument("--dtype", default="bf16", choices=list(bench.DTYPES))
    p.add_argument("--warmup", type=float, default=5, help="ms per implementation per round")
    p.add_argument("--rep", type=float, default=10, help="ms per implementation per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--eps", type=float, default=1e-6)
    p.add_argument("--quick", action="store_true", help=f"cases {QUICK_CASES}, tokens {QUICK_TOKENS}")
    args = p.parse_args(argv)
    args.cases = args.cases or list(QUICK_CASES if args.quick else CASES)
    args.tokens = args.tokens or list(QUICK_TOKENS if args.quick else TOKENS)
    if args.family_cases is None:
        args.family_cases = list(QUICK_FAMILY if args.quick else FAMILY_CASES)
    args.family_tokens = args.family_tokens or list(QUICK_TOKENS[:1] if args.quick else FAMILY_TOKENS)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.monotonic()
    if os.environ.get("AITER_LAUNCH_TUNE"):
        raise SystemExit("unset AITER_LAUNCH_TUNE: the tuner measures against the derived defaults")
    if args.device == "cuda":
        bench.check_device(args)
    torch.manual_seed(0)
    grid = parse_grid(args.grid)
    for key, values in grid.items():
        for v in values:
            _C.check_tune(f"{key}={v}", table=True)  # table keys only, valid values
    by_name = {c.name: c for c in bench.CASES}
    unknown = (set(args.cases) - set(by_name)) | (set(args.family_cases) - set(family.CASES))
    if unknown:
        raise SystemExit(f"unknown case(s) {sorted(unknown)}")
    cells = []
    for T in list(args.tokens) + [t for t in args.family_tokens if t not in args.tokens]:
        cells += [(by_name[c], T) for c in args.cases if T in args.tokens]
        cells += [(c, T) for c in args.family_cases if T in args.family_tokens]

    with tuning.tables({}), tuning.override(""):  # the baseline: derived defaults
        name, derived, props = device_description(args)
        key = _C.device_key(name)
        out = Path(args.out) if args.out else tuning.TABLE_DIR / f"{key}.json"
        alternatives = candidates(grid, derived)
        specs = [spec for _, _, spec in alternatives]
        log(f"tuning {name} (key {key}): {len(specs)} alternatives x {len(cells)} cells, budget {args.budget_s:.0f} s")
        timer = bench.Timer(args.device, args.warmup, args.rep)
        begin = time.monotonic()
        with torch.no_grad():
            ratios1, cells1 = run_pass("pass 1", cells, specs, args, timer, begin + PASS1_SHARE * args.budget_s)
            pass1 = {spec: (k, v, summarise(ratios1[spec])) for k, v, spec in alternatives}
            chosen = best_per_key(pass1, args.min_gain, args.max_loss)
            contenders = final_specs(chosen)
            pass2, cells2 = {}, []
            if contenders:
                todo = [c for c in cells if (cell_name(c[0]), c[1]) in set(cells1)]
                ratios2, cells2 = run_pass("pass 2", todo, contenders, args, timer, begin + args.budget_s)
                pass2 = {spec: summarise(ratios2[spec]) for spec in contenders}
        tune = pick(pass2, args.min_gain, args.max_loss)
        _C.check_tune(tune, table=True)

    table = {
        "device": name, "key": key, "tune": tune,
        "note": ("tools/tune_launch.py: the derived defaults with these keys on top; every key here kept results "
                 "bit for bit and met the rules on the cells below (time ratios: tuned / derived defaults)"),
        "rules": {"min_gain": args.min_gain, "max_loss": args.max_loss},
        "chosen": pass2.get(tune) if tune else None,
        "derived": derived, "properties": props,
        "pass1": {spec: {"key": k, "value": v, **s} for spec, (k, v, s) in pass1.items()},
        "pass2": pass2,
        "cells_pass1": [list(c) for c in cells1], "cells_pass2": [list(c) for c in cells2],
        "timing": {"dtype": args.dtype, "warmup_ms": args.warmup, "rep_ms": args.rep, "rounds": args.rounds,
                   "timer": timer.method},
        "budget_s": args.budget_s, "seconds": round(time.monotonic() - start, 1),
        "torch": torch.__version__, "aiter": aiter.__version__, "commit": git_commit(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:])),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, indent=1) + "\n")
    tuning.read_table(out)  # the file loads as a table
    log(f"wrote {out}: tune '{tune}'" + (f" (geomean {table['chosen']['geomean']:.3f}x, worst "
                                         f"{table['chosen']['worst']:.3f}x over {table['chosen']['cells']} cells)"
                                         if tune else " (derived defaults measured best)")
        + f" in {table['seconds']:.0f} s")
    print(summary_markdown(table))
    return table


def summary_markdown(table: dict) -> str:
    lines = [f"### Launch tuning: {table['device']} (`{table['key']}`)", "",
             f"table: `{table['tune'] or '(empty: derived defaults)'}`; rules: geomean <= "
             f"{1 - table['rules']['min_gain']:.2f}x, no cell > {1 + table['rules']['max_loss']:.2f}x; "
             f"{len(table['cells_pass1'])} cells in pass 1, {len(table['cells_pass2'])} in pass 2, "
             f"{table['seconds']:.0f} s", "",
             "| pass | alternative | geomean | best cell | worst cell |", "|---|---|---:|---:|---:|"]
    rows = [("1", spec, s) for spec, s in table["pass1"].items()] + [("2", spec, s) for spec, s in table["pass2"].items()]
    for p, spec, s in rows:
        if s["cells"]:
            lines.append(f"| {p} | `{spec}` | {s['geomean']:.3f} | {s['best']:.3f} | {s['worst']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
