#!/usr/bin/env bash
# The GPU checks of a change, in one device call: build in place, the CUDA
# tests (every test's cuda case, the kernel-resource test), then upstream
# aiter's five norm op_tests on the GPU, unchanged, through
# op_tests/run_upstream_norm_tests.py (their files in .upstream/, carried:
# fetched from ROCm/aiter at the pinned commit, never committed).
#
#   OUT=... bash tools/device_gpu_check.sh    (carry: .upstream, and .whl for wheels
#                                              the machine lacks: pandas, tabulate)
#
# Knobs: TESTS_S (seconds for the CUDA tests, default 330), SELECT (their -k).
set -uo pipefail
OUT=${OUT:?OUT must name the output folder}
TESTS_S=${TESTS_S:-330}
SELECT=${SELECT:-"cuda or kernel_resources"}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_check.txt") 2>&1
START=$SECONDS
stage() { echo; echo "=== [$((SECONDS - START)) s] $*"; }
status=0

stage "device"
if compgen -G ".whl/*.whl" > /dev/null; then  # e.g. pandas and tabulate for upstream's op_tests
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"

stage "build (TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16, in place)"
TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16 python3 setup.py -q build_ext --inplace > /tmp/build.log 2>&1 \
  || { tail -40 /tmp/build.log; echo "!!! BUILD FAILED"; exit 1; }
python3 -c "import aiter; assert aiter.gpu_backend_available(); print('aiter', aiter.__version__, 'GPU build')" || exit 1

stage "CUDA tests (-k '$SELECT', at most $TESTS_S s)"
timeout "$TESTS_S" python3 -m pytest tests -q -p no:cacheprovider -k "$SELECT" --durations=10 \
  > "$OUT/cuda_tests.txt" 2>&1
rc=$?
grep -E "^(FAILED|ERROR)" "$OUT/cuda_tests.txt" | head -30
tail -15 "$OUT/cuda_tests.txt"
[ $rc -eq 0 ] || { echo "!!! CUDA TESTS rc=$rc"; status=1; }

stage "upstream's norm op_tests on the GPU"
if [ -d .upstream ]; then
  python3 op_tests/run_upstream_norm_tests.py --src .upstream --device cuda --timeout 240 \
    --md "$OUT/upstream_cuda.md" > "$OUT/upstream_cuda.txt" 2>&1
  rc=$?
  tail -20 "$OUT/upstream_cuda.txt"
  [ $rc -eq 0 ] || { echo "!!! UPSTREAM OP_TESTS rc=$rc"; status=1; }
else
  echo "!!! no .upstream folder carried"; status=1
fi
stage "done (status $status)"
exit $status
