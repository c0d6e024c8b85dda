"""Runs upstream aiter's own norm op_tests against this package and tabulates
their checks.

    python3 op_tests/run_upstream_norm_tests.py --src DIR [--device cpu|cuda]

DIR holds upstream's files, fetched beforehand (never committed here), e.g.
from ROCm/aiter at e4048607a535ace3a2b51ded31b1c8c2d45c0879:
op_tests/test_rmsnorm2d.py, test_layernorm2d.py, test_rmsnorm2dFusedAddQuant.py,
test_layernorm2dFusedAddQuant.py and test_fused_qk_norm.py.

Each file runs unchanged, with its default arguments, in its own process
with AITER_TEST_STRICT=1 (aiter.test_common: a failed checkAllclose makes
the process exit 1). With --device cpu the only change is the device string:
``device="cuda"`` and ``set_default_device("cuda")`` become ``"cpu"`` (the
rewritten copy goes to a temporary folder). Per file the table gives the
checkAllclose counts (passed, warned = within the test's tol_err_ratio,
failed), errors (an uncaught exception, a timeout or a crash) and the time.
Exits 0 only when every file ran at least one check, with none failed and no
error. --logs DIR keeps each file's output; --md FILE writes the table.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FILES = ("test_rmsnorm2d.py", "test_layernorm2d.py", "test_rmsnorm2dFusedAddQuant.py",
         "test_layernorm2dFusedAddQuant.py", "test_fused_qk_norm.py")
# The device string, as upstream's files spell it: the one thing the CPU run changes.
DEVICE_STRINGS = (re.compile(r'device="cuda"'), re.compile(r'set_default_device\("cuda"\)'))
REPO = Path(__file__).resolve().parents[1]


def to_device(source: str, device: str):
    """The file's text for `device`, and how many device strings changed."""
    if device == "cuda":
        return source, 0
    changed = 0
    for pattern in DEVICE_STRINGS:
        source, n = pattern.subn(lambda m: m.group(0).replace('"cuda"', f'"{device}"'), source)
        changed += n
    return source, changed


def missing_modules(names=("pandas", "tabulate")):
    """What upstream's files import (pandas; tabulate for DataFrame.to_markdown)
    that this Python lacks: without them two of the five stop at import."""
    import importlib.util

    return [n for n in names if importlib.util.find_spec(n) is None]


def run_one(path: Path, device: str, workdir: Path, logs: Path, timeout: float) -> dict:
    source, changed = to_device(path.read_text(), device)
    script = workdir / path.name
    script.write_text(source)
    summary = workdir / (path.stem + ".summary.json")
    log = logs / (path.stem + ".log")
    env = dict(os.environ, AITER_TEST_STRICT="1", AITER_TEST_SUMMARY=str(summary))
    # An in-place build (no install) is importable from the repository root.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    start = time.monotonic()
    with open(log, "w") as out:
        try:
            rc = subprocess.run([sys.executable, str(script)], cwd=workdir, env=env, stdout=out,
                                stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    seconds = time.monotonic() - start
    text = log.read_text(errors="replace")
    counts = json.loads(summary.read_text()) if summary.exists() else {}
    # An error: the file did not finish on its own (an exception, a crash, a
    # timeout); strict mode's exit 1 after failed checks alone is not one.
    errors = 0
    if rc == "timeout" or "Traceback (most recent call last)" in text or (rc != 0 and not counts.get("failed")):
        errors = 1
    return dict(file=path.name, device_strings=changed, rc=rc, seconds=seconds, errors=errors, log=str(log),
                checks=counts.get("checks", 0), passed=counts.get("passed", 0), warned=counts.get("warned", 0),
                failed=counts.get("failed", 0), tail=text[-3000:])


def table(rows, device: str) -> str:
    lines = [f"upstream norm op_tests on {device} (AITER_TEST_STRICT=1, default arguments)", "",
             "| file | checks | passed | warned | failed | errors | exit | time s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['file']} | {r['checks']} | {r['passed']} | {r['warned']} | {r['failed']} | "
                     f"{r['errors']} | {r['rc']} | {r['seconds']:.0f} |")
    total = {k: sum(r[k] for r in rows) for k in ("checks", "passed", "warned", "failed", "errors")}
    lines.append(f"| total | {total['checks']} | {total['passed']} | {total['warned']} | {total['failed']} | "
                 f"{total['errors']} | | {sum(r['seconds'] for r in rows):.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, type=Path, help="folder holding upstream's five files")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    parser.add_argument("--files", nargs="*", default=list(FILES), help="a subset of the five (names)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per file")
    parser.add_argument("--logs", type=Path, help="keep each file's output here (default: a temporary folder)")
    parser.add_argument("--md", type=Path, help="also write the table here")
    args = parser.parse_args(argv)

    missing = [f for f in args.files if not (args.src / f).is_file()]
    if missing:
        print(f"not in {args.src}: {', '.join(missing)}", file=sys.stderr)
        return 2
    lacking = missing_modules()
    if lacking:
        print(f"warning: {', '.join(lacking)} not installed; test_fused_qk_norm.py and "
              f"test_rmsnorm2dFusedAddQuant.py will stop at import (pip install {' '.join(lacking)}, or offline "
              f"pip install --no-index --find-links <wheel folder> {' '.join(lacking)})", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="aiter_upstream_") as tmp:
        workdir = Path(tmp)
        logs = args.logs or workdir
        logs.mkdir(parents=True, exist_ok=True)
        rows = []
        for name in args.files:
            print(f"== {name} ...", flush=True)
            row = run_one(args.src / name, args.device, workdir, logs, args.timeout)
            rows.append(row)
            print(f"   {row['checks']} checks, {row['failed']} failed, {row['errors']} errors, exit {row['rc']}, "
                  f"{row['seconds']:.0f} s ({row['device_strings']} device strings rewritten)", flush=True)
            if row["failed"] or row["errors"] or not row["checks"]:
                print(f"--- last lines of {name}'s output ({row['log']}):\n{row['tail']}", flush=True)
        report = table(rows, args.device)
    print("\n" + report)
    if args.md:
        args.md.write_text(report + "\n")
    ok = all(r["checks"] and not r["failed"] and not r["errors"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
