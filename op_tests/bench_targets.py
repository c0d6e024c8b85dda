#!/usr/bin/env python3
"""Checks a bench_rmsnorm.py JSON against issue #31's targets and prints
which cells miss them (a report; --strict exits 1 on a miss).

  python3 op_tests/bench_targets.py bench.json [--md targets.md] [--dtype bf16]

Targets, each GPU, one interleaved run:
  T >= 1024   ours >= 0.98x the fastest peer (eager, compile, guard, liger,
              flashinfer) in every cell; ahead of every peer (> 1.0x) on the
              strided Q/K and row-strided cases
  T >= 8192   >= 95% of copy for every 2D and fused-add case
  Q/K slices  T >= 8192: >= 1.6x Inductor and >= 1.4x FlashInfer; the guard
              ratio >= 2.2x (Q) / 2.0x (K) at T = 8192, >= 2.5x at T = 32768
  decode      T <= 32: the median over cells of ours / copy <= 1.2, and no
              cell more than 5% behind the fastest peer (>= 0.95x)
  host        validation + dispatch (0-row calls) <= 3 us
"""
import argparse
import json
import statistics
import sys

PEERS = ("eager", "compile", "guard", "liger", "flashinfer")
STRIDED = ("qk_q_strided", "qk_k_strided", "add_qk_strided")


def cells(rows: list, dtype: str) -> dict:
    """{(case, T): {impl: us}} of one dtype (implementations that ran)."""
    out = {}
    for r in rows:
        if r["dtype"] == dtype and r["us"]:
            out.setdefault((r["case"], r["T"]), {})[r["impl"]] = r["us"]
    return out


def fastest_peer(imps: dict):
    peers = {p: imps[p] for p in PEERS if p in imps}
    if not peers:
        return None, None
    name = min(peers, key=peers.get)
    return name, peers[name]


def vs_fastest(table: dict, cell):
    """Fastest peer's us / ours us (None when no peer ran)."""
    imps = table[cell]
    _, us = fastest_peer(imps)
    return None if us is None or "ours" not in imps else us / imps["ours"]


def peer_targets(table: dict) -> list:
    """[(target, cells, ok)] of the targets that hold ours against the fastest
    peer, in report order (the first two at T >= 1024, the last at decode)."""
    big = [c for c in table if c[1] >= 1024]
    ahead = [c for c in big if c[0] in STRIDED or c[0].endswith("_rowstrided")]
    decode = [c for c in table if c[1] <= 32 and "copy" in table[c]]
    return [("T >= 1024: fastest peer us / ours us >= 0.98", big, lambda v: v >= 0.98),
            ("T >= 1024, strided Q/K and row-strided: ahead of every peer", ahead, lambda v: v > 1.0),
            ("T <= 32: fastest peer us / ours us >= 0.95", decode, lambda v: v >= 0.95)]


def peer_misses(data: dict, dtype: str = "bf16") -> list:
    """[(case, T, fastest peer, its us / ours us)] of every cell that misses a
    peer target, worst first (what tools/profile_misses.py profiles)."""
    table = cells(data["rows"], dtype)
    missed = {}
    for _, items, ok in peer_targets(table):
        for c in items:
            v = vs_fastest(table, c)
            if v is not None and not ok(v):
                missed[c] = (c[0], c[1], fastest_peer(table[c])[0], v)
    return sorted(missed.values(), key=lambda m: m[3])


def check(data: dict, dtype: str) -> list:
    """[(target, cells checked, misses [(cell, value)], worst)] for one run."""
    table = cells(data["rows"], dtype)
    results = []

    def target(name, items, ok, fmt="{:.2f}x", worst=min, against=None):
        values = [(cell, v) for cell, v in items if v is not None]
        misses = [(cell, fmt.format(v) + (f" vs {against(cell)}" if against else "")) for cell, v in values
                  if not ok(v)]
        w = worst(v for _, v in values) if values else None
        results.append((name, len(values), misses, None if w is None else fmt.format(w)))

    def fastest_name(cell):
        return fastest_peer(table[cell])[0]

    def against_fastest(name, items, ok):
        target(name, [(c, vs_fastest(table, c)) for c in items], ok, against=fastest_name)

    at_1024, ahead, at_decode = peer_targets(table)
    against_fastest(*at_1024)
    against_fastest(*ahead)
    wide = [c for c in table if c[1] >= 8192 and (c[0].startswith("2d_") or c[0].startswith("add_")) and "copy" in
            table[c]]
    target("T >= 8192, 2D and fused add: % of copy >= 95", [(c, 100 * table[c]["copy"] / table[c]["ours"])
                                                           for c in wide], lambda v: v >= 95, "{:.1f}%")
    qk = [c for c in table if c[0] in ("qk_q_strided", "qk_k_strided") and c[1] >= 8192]

    def ratio(cell, peer):
        return table[cell][peer] / table[cell]["ours"] if peer in table[cell] else None

    target("Q/K slices, T >= 8192: x Inductor >= 1.6", [(c, ratio(c, "compile")) for c in qk], lambda v: v >= 1.6)
    target("Q/K slices, T >= 8192: x FlashInfer >= 1.4", [(c, ratio(c, "flashinfer")) for c in qk], lambda v: v >= 1.4)
    guard_min = {("qk_q_strided", 8192): 2.2, ("qk_k_strided", 8192): 2.0,
                 ("qk_q_strided", 32768): 2.5, ("qk_k_strided", 32768): 2.5}
    for cell, need in guard_min.items():
        if cell in table:
            target(f"{cell[0]} T = {cell[1]}: x guard >= {need}", [(cell, ratio(cell, "guard"))],
                   lambda v, need=need: v >= need)
    _, decode, _ = at_decode
    per_cell = [(c, table[c]["ours"] / table[c]["copy"]) for c in decode]
    if per_cell:
        med = statistics.median(v for _, v in per_cell)
        results.append(("T <= 32: median of ours / copy <= 1.2", len(per_cell),
                        [] if med <= 1.2 else [(("median", "-"), f"{med:.2f}x")], f"{med:.2f}x"))
        target("T <= 32: ours / copy per cell (for reference, <= 1.2)", per_cell, lambda v: v <= 1.2, worst=max)
    against_fastest(*at_decode)
    host = [h for h in data.get("host_overhead", []) if "validation + dispatch" in h["call"]]
    target("host: validation + dispatch <= 3 us", [((h["call"], "-"), h["wall_us_per_call"]) for h in host],
           lambda v: v <= 3.0, "{:.2f} us", worst=max)
    return results


def markdown(results: list, header: dict, dtype: str) -> str:
    lines = [f"### Targets ({header.get('device', '?')}, {dtype}; launch policy: {header.get('launch_policy', '?')})",
             "", "| target | cells | met | worst | misses |", "|---|---:|---|---:|---|"]
    for name, n, misses, worst in results:
        shown = ", ".join(f"{c[0]} T={c[1]}: {v}" for c, v in misses[:8]) + (" ..." if len(misses) > 8 else "")
        lines.append(f"| {name} | {n} | {'yes' if not misses else 'no'} | {worst or '—'} | {shown or '—'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("json")
    p.add_argument("--dtype", default="bf16")
    p.add_argument("--md", help="also write the table here")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)
    data = json.load(open(args.json))
    results = check(data, args.dtype)
    md = markdown(results, data.get("header", {}), args.dtype)
    print(md)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md + "\n")
    return 1 if args.strict and any(misses for _, _, misses, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
