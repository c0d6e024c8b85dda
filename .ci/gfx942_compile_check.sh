#!/usr/bin/env bash
# Compile-only check of the GPU kernels for AMD gfx942 (MI300) and gfx90a
# (MI200) with Debian's clang-19 and HIP 5.2 headers; no GPU needed.
# Compiles every csrc/kernels/*.cu device-only for each target, then
# tools/codeobject_report.py checks the code objects (every expected kernel
# present, wave64, no scratch / spills) and prints their register use.
# Exits non-zero on any failure.
#
# Env: GFX_TARGETS ("gfx942 gfx90a"), JOBS (nproc), KEEP_DIR (keep the code
# objects and logs there instead of a temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
V=19
TARGETS=${GFX_TARGETS:-"gfx942 gfx90a"}
JOBS=${JOBS:-$(nproc)}

# --- tools (Debian packages) -------------------------------------------------
have_tools() {
  command -v "clang++-$V" && command -v "ld.lld-$V" && command -v "llvm-readelf-$V" &&
    command -v "llvm-cxxfilt-$V" && [ -e /usr/include/hip/hip_runtime.h ] &&
    ls /usr/lib/*/amdgcn/bitcode/ocml.bc
}
if ! have_tools >/dev/null 2>&1; then
  echo "== installing clang-$V, lld-$V, llvm-$V, libamdhip64-dev, rocm-device-libs"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends \
    "clang-$V" "lld-$V" "llvm-$V" libamdhip64-dev rocm-device-libs >/dev/null
  have_tools >/dev/null || { echo "tools still missing after install" >&2; exit 1; }
fi
echo "== tools ready: $((SECONDS - start)) s ($("clang++-$V" --version | head -1))"

if [ -n "${KEEP_DIR:-}" ]; then
  WORK=$KEEP_DIR
  rm -rf "$WORK"
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK/devlibs" "$WORK/co" "$WORK/log"

# --- device libraries --------------------------------------------------------
# Debian's rocm-device-libs (5.2) stop at gfx940: clang wants
# oclc_isa_version_<N>.bc for each target, so link every bitcode file into one
# folder and give gfx94x the gfx940 ISA file (same features for compiling).
BITCODE=$(dirname "$(ls /usr/lib/*/amdgcn/bitcode/ocml.bc | head -1)")
ln -s "$BITCODE"/*.bc "$WORK/devlibs/"
for t in $TARGETS; do
  isa="$WORK/devlibs/oclc_isa_version_${t#gfx}.bc"
  [ -e "$isa" ] && continue
  case $t in
    gfx94*) ln -s "$BITCODE/oclc_isa_version_940.bc" "$isa" ;;
    *) echo "no device library for $t in $BITCODE" >&2; exit 1 ;;
  esac
done

# --- hip_bf16.h for HIP < 5.7 ---------------------------------------------------
# compat.h includes <hip/hip_bf16.h> (ROCm >= 5.7); Debian's HIP 5.2 lacks it.
# Stand in with the part of its API the kernels use, under ROCm's names only
# (no CUDA-only spellings), so a call ROCm lacks fails here too.
INCLUDES=(-Icsrc -Icsrc/include)
if [ ! -e /usr/include/hip/hip_bf16.h ]; then
  mkdir -p "$WORK/shim/hip"
  cat >"$WORK/shim/hip/hip_bf16.h" <<'EOF'
// Stand-in for ROCm's hip_bf16.h (ROCm >= 5.7), for the compile check only.
#pragma once
#include <hip/hip_runtime.h>
struct __attribute__((aligned(2))) __hip_bfloat16 {
  unsigned short data;
};
static __host__ __device__ inline float __bfloat162float(__hip_bfloat16 a) {
  unsigned int u = static_cast<unsigned int>(a.data) << 16;
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}
// Round to nearest even; NaN stays a (quiet) NaN.
static __host__ __device__ inline __hip_bfloat16 __float2bfloat16(float f) {
  unsigned int u;
  __builtin_memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return __hip_bfloat16{static_cast<unsigned short>((u >> 16) | 0x40u)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return __hip_bfloat16{static_cast<unsigned short>(u >> 16)};
}
EOF
  INCLUDES=(-I"$WORK/shim" "${INCLUDES[@]}")
  echo "== HIP $(sed -n 's/^#define HIP_VERSION_MAJOR //p;s/^#define HIP_VERSION_MINOR //p' /usr/include/hip/hip_version.h | paste -sd.) has no hip_bf16.h: using a stand-in"
fi

# --- compile -----------------------------------------------------------------
# Device-only, one code object per (source, target); the defines are the ones
# torch's cpp_extension passes to hipcc for a ROCm build.
FLAGS=(-x hip --cuda-device-only --no-gpu-bundle-output -O3 -std=c++17
  --rocm-path=/usr --rocm-device-lib-path="$WORK/devlibs"
  -D__HIP_PLATFORM_AMD__=1 -DUSE_ROCM=1 -DCUDA_HAS_FP16=1
  -D__HIP_NO_HALF_OPERATORS__=1 -D__HIP_NO_HALF_CONVERSIONS__=1
  -DHIP_ENABLE_WARP_SYNC_BUILTINS=1 -DAITER_WITH_GPU=1
  "${INCLUDES[@]}")
printf '%s\n' "${FLAGS[@]}" >"$WORK/flags"
export CXX="clang++-$V" WORK
compile_one() {  # SOURCE TARGET
  local name out flags
  name=$(basename "$1" .cu).$2
  out="$WORK/co/$name.co"
  mapfile -t flags <"$WORK/flags"
  if "$CXX" "${flags[@]}" --offload-arch="$2" -c "$1" -o "$out" >"$WORK/log/$name.log" 2>&1; then
    echo "  ok    $name"
  else
    echo "  FAIL  $name"
    return 1
  fi
}
export -f compile_one

sources=(csrc/kernels/*.cu)
jobs=()
for s in "${sources[@]}"; do for t in $TARGETS; do jobs+=("$s" "$t"); done; done
echo "== compiling ${#sources[@]} sources x $(echo $TARGETS | wc -w) targets ($JOBS jobs)"
t0=$SECONDS
status=0
printf '%s\0' "${jobs[@]}" | xargs -0 -n 2 -P "$JOBS" bash -c 'compile_one "$1" "$2"' _ || status=1
echo "== compile: $((SECONDS - t0)) s"
for log in "$WORK"/log/*.log; do
  if [ -s "$log" ]; then
    echo "--- $(basename "$log" .log) (first 60 lines of $(wc -l <"$log")):"
    head -n 60 "$log"
  fi
done
# --- code objects --------------------------------------------------------------
# Reported even when a source failed, so one run shows every problem.
report_targets=$(echo $TARGETS | tr ' ' ',')
cos=("$WORK"/co/*.co)
if [ -e "${cos[0]}" ]; then
  python3 tools/codeobject_report.py --readelf "llvm-readelf-$V" --cxxfilt "llvm-cxxfilt-$V" \
    --targets "$report_targets" "${cos[@]}" || status=1
else
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "== gfx compile check FAILED after $((SECONDS - start)) s (compile logs / report above)" >&2
  exit 1
fi
echo "== gfx compile check passed: $((SECONDS - start)) s"
