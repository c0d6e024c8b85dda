#!/usr/bin/env bash
# Set-up for a fresh machine: torch (the CPU build when none is installed;
# an existing CUDA/ROCm torch is kept), the build tools, then an in-place
# build of the extension against that torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q torch==2.13.0
fi
"$PY" -m pip install -q pybind11 ninja pytest hypothesis || echo "bootstrap: pip could not install the tools; using what is installed"
# An editable install; where pip cannot (an offline machine whose pip wants
# build dependencies), build the extension in place instead.
"$PY" -m pip install -q --no-build-isolation -e . || "$PY" setup.py -q build_ext --inplace
