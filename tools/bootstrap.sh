#!/usr/bin/env bash
# Set-up for a fresh machine: torch (the CPU build when none is installed;
# an existing CUDA/ROCm torch is kept), the build tools and every package the
# tests import, then an in-place build of the extension against that torch
# (skipped when the build is already current) and of the CPU SIMT executor.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q torch==2.13.0
fi
# Build tools (setuptools too: a Python 3.12+ venv has none); what tests/
# imports (pytest, hypothesis, numpy); what upstream's norm op_tests import,
# for op_tests/run_upstream_norm_tests.py (pandas, and tabulate for its
# markdown tables).
"$PY" -m pip install -q setuptools pybind11 ninja pytest hypothesis numpy pandas tabulate \
  || echo "bootstrap: pip could not install the tools; using what is installed"
missing=$("$PY" - <<'PY'
import importlib.util
print(" ".join(m for m in ("setuptools", "pybind11", "pytest", "hypothesis", "numpy", "pandas", "tabulate")
               if importlib.util.find_spec(m) is None))
PY
)
if [ -n "$missing" ]; then
  echo "bootstrap: missing packages the build or the tests need: $missing" >&2
  exit 1
fi
if "$PY" tools/extension_is_current.py; then
  echo "bootstrap: aiter._C is current (built from these sources); not rebuilding"
else
  # An editable install (PEP 660: older pips would otherwise take setuptools'
  # `develop`, which recent setuptools hands back to pip with build isolation,
  # where torch is missing); where pip cannot (an offline machine whose pip
  # wants build dependencies), build the extension in place instead.
  "$PY" -m pip install -q --no-build-isolation --use-pep517 -e . || "$PY" setup.py -q build_ext --inplace
fi
# The CPU SIMT executor's libraries, which the tests run the kernels on
# (ninja: a no-op when current; a few minutes per wave width from scratch).
"$PY" aiter/simt/build.py
