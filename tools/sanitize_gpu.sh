#!/usr/bin/env bash
# Runs a fixed slice of the GPU test matrix (all layouts, odd and long rows,
# the seed case, the fused residual path, the gather fallback, the eager fast
# path, and a fixed, derandomized set of fuzz examples) under each
# compute-sanitizer tool and prints one summary line per tool. Exit status is
# non-zero if any tool reports an error or a test fails.
#   usage: tools/sanitize_gpu.sh [extra pytest -k expression]
set -uo pipefail
cd "$(dirname "$0")/.."
SELECT=${1:-"cuda and (seed or gather or eager_path or random_views or (layout and (7- or 769- or 8193-) and (-3] or -257]) and bfloat16))"}
# Fuzz examples per tool (derandomized: the same views every run).
export AITER_FUZZ_EXAMPLES=${AITER_FUZZ_EXAMPLES:-60}
status=0
for tool in memcheck racecheck initcheck synccheck; do
  log=$(mktemp)
  compute-sanitizer --tool "$tool" --error-exitcode 99 --print-limit 20 \
    python3 -m pytest tests -q -p no:cacheprovider -k "$SELECT" >"$log" 2>&1
  rc=$?
  tests=$(grep -E "passed|failed" "$log" | tail -1)
  errors=$(grep -E "(ERROR|RACECHECK) SUMMARY" "$log" | tail -1)
  echo "$tool: rc=$rc; ${errors:-no summary}; ${tests:-no pytest summary}"
  [ $rc -ne 0 ] && { status=1; grep -E "=========" "$log" | head -20; }
  rm -f "$log"
done
exit $status
