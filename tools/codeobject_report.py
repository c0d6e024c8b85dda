#!/usr/bin/env python3
"""Check and tabulate AMDGPU code objects of the row-norm kernels (stdlib only).

Reads the AMDGPU metadata note of each code object (`llvm-readelf --notes`,
the YAML-ish "amdhsa.kernels" list), groups kernels by target, and fails
(exit 1) unless, for every target:
  * every expected aiter::norm_rows_kernel<T, VEC, CACHED, VARIANT>
    instantiation is present, and no unexpected one is, and likewise for
    aiter::norm_rows_compact_kernel (the dense-row RMSNorm kernels' entries
    that take a CompactLaunch);
  * every kernel has .wavefront_size 64;
  * every kernel has .private_segment_fixed_size (scratch) 0 and
    .vgpr_spill_count 0, i.e. no spills to memory. Spilling kernels are
    listed with their sizes before failing.
SGPR spills (.sgpr_spill_count) go to VGPR lanes, not memory; they are shown
in the table but do not fail the check.

Usage:
  codeobject_report.py [--readelf llvm-readelf-19] [--cxxfilt llvm-cxxfilt-19]
                       [--targets gfx942,gfx90a] FILE...
FILE is a code object (readelf is run on it) or, if it ends in .notes or
.txt, text already produced by `llvm-readelf --notes`.
"""
import argparse
import collections
import os
import re
import subprocess
import sys

# --- what the sources instantiate --------------------------------------------
# csrc/kernels/norm_rows_kernel.cuh instantiates norm_rows_kernel for
#   T       float, __half, __hip_bfloat16
#   VEC     kVectorBytes / sizeof(T) (16-byte accesses) and 1
#   CACHED  0 and powers of two up to kMaxCachedChunks, only where
#           CACHED * VEC * sizeof(T) <= max_cached_bytes(VARIANT)
#   VARIANT 0..7: bit 0 fused residual add, bit 1 dynamic-quant epilogue,
#           bit 2 LayerNorm, and 8: two jobs (fused Q/K); quantising variants
#           once per output format in bits 4-5 (norm_params.h NormVariant)
# kMaxCachedChunks, kVectorBytes and max_cached_bytes are read from
# csrc/include/launch_config.h, so the expected set follows the sources.
# The dense-row RMSNorm variants (plain, fused add) also instantiate
# norm_rows_compact_kernel with the same arguments (COMPACT_VARIANTS below).
LAUNCH_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "csrc", "include",
                             "launch_config.h")
DTYPES = {"float": ("f32", 4), "__half": ("f16", 2), "__hip_bfloat16": ("bf16", 2)}
# Quantising variants (bit 1) are instantiated once per output format, which
# sits in bits 4-5 (QuantType: 1 int8, 2 e4m3fn, 3 e4m3fnuz).
BASE_VARIANTS = {0: "rms", 1: "add_rms", 2: "rms_quant", 3: "add_rms_quant", 4: "layer", 5: "add_layer",
                 6: "layer_quant", 7: "add_layer_quant", 8: "qk_rms"}
# RMSNorm quant (no bit 2) also has per-group-scale kernels: bit 6. Every
# quantising kernel has a twin for calls with a smooth-quant xscale: bit 7.
FORMATS = {1: "i8", 2: "fp8", 3: "fp8fnuz"}
GROUP_SCALES = 0x40
SMOOTH = 0x80
VARIANTS = {}
for _v, _name in BASE_VARIANTS.items():
    if _v & 2:
        for _smooth, _tag in ((0, ""), (SMOOTH, "_smooth")):
            VARIANTS.update({_v | _smooth | (q << 4): f"{_name}{_tag}_{fmt}" for q, fmt in FORMATS.items()})
            if not _v & 4:
                VARIANTS.update({_v | _smooth | GROUP_SCALES | (q << 4): f"{_name}_group{_tag}_{fmt}"
                                 for q, fmt in FORMATS.items()})
    else:
        VARIANTS[_v] = _name
# RMSNorm, the fused Q/K norm, RMSNorm-quant and LayerNorm (with and without
# the fused add) also have dense-row kernels (bit 8): 16-byte vectors, rows
# cached in registers (variant_has_dense_kernel).
DENSE_ROWS = 0x100
DENSE_BASES = (0, 1, 2, 3, 4, 5, 8)
DENSE_VARIANTS = {_v | DENSE_ROWS: f"{_name}_dense" for _v, _name in VARIANTS.items() if _v & 0xF in DENSE_BASES}
VARIANTS.update(DENSE_VARIANTS)
# Dense-row RMSNorm, plain and fused add, also has an entry taking the
# compact parameter block (csrc/include/compact_params.h,
# variant_takes_compact): norm_rows_compact_kernel, same template arguments
# and kSplitRows false; the fused add's one-vector kernel has a second one
# with kSplitRows true, for its split decode launches
# (TargetInfo::dense_decode_split).
COMPACT_VARIANTS = {0 | DENSE_ROWS, 1 | DENSE_ROWS}
SPLIT_COMPACT_VARIANTS = {1 | DENSE_ROWS}


def read_launch_rules(path=LAUNCH_CONFIG):
    text = open(path, encoding="utf-8").read()
    max_chunks = int(re.search(r"constexpr int kMaxCachedChunks = (\d+);", text).group(1))
    vector_bytes = int(re.search(r"constexpr int kVectorBytes = (\d+);", text).group(1))
    small_bytes, rms_bytes = map(int, re.search(
        r"return variant_adds\(v\) \|\| variant_quantizes\(v\) \? (\d+) : (\d+);", text).groups())
    cached = (0,) + tuple(1 << i for i in range(max_chunks.bit_length()) if (1 << i) <= max_chunks)
    # Variants with bit 0 (fused residual add) or bit 1 (quant epilogue) set cache less.
    return vector_bytes, cached, {v: small_bytes if v & 3 else rms_bytes for v in VARIANTS}


VECTOR_BYTES, CACHED_CHUNKS, MAX_CACHED_BYTES = read_launch_rules()

# --- occupancy model (gfx90a / gfx942, wave64) --------------------------------
# Per SIMD: 512 VGPRs per lane, one file shared by architectural VGPRs and
# AGPRs (.vgpr_count in the metadata is already that unified total, LLVM's
# NumVGPRsForWavesPerEU), allocated in granules of 8; at most 8 waves per
# SIMD (LLVM AMDGPUBaseInfo: getTotalNumVGPRs 512, getVGPRAllocGranule 8,
# getMaxWavesPerEU 8 for GFX90A-class targets).
#   waves(VGPR) = min(8, floor(512 / roundup(vgpr_count, 8)))
# SGPRs (800 per SIMD on gfx9) give LLVM's GCNSubtarget::getOccupancyWithNumSGPRs
# table for gfx8/gfx9: <= 80 -> 10, <= 88 -> 9, <= 100 -> 8, else 7 waves;
# .sgpr_count includes VCC / FLAT_SCRATCH / XNACK_MASK. "waves" is the
# smaller of the two. LDS and block size are not modelled (these kernels use
# 128 bytes of LDS).
VGPRS_PER_SIMD = 512
VGPR_GRANULE = 8
MAX_WAVES_PER_SIMD = 8
GFX9_SGPR_STEPS = ((80, 10), (88, 9), (100, 8))
GFX9_SGPR_FLOOR = 7


def waves_from_vgprs(vgprs):
    granules = max(1, -(-vgprs // VGPR_GRANULE))
    return min(MAX_WAVES_PER_SIMD, VGPRS_PER_SIMD // (granules * VGPR_GRANULE))


def waves_from_sgprs(sgprs):
    for limit, waves in GFX9_SGPR_STEPS:
        if sgprs <= limit:
            return min(MAX_WAVES_PER_SIMD, waves)
    return min(MAX_WAVES_PER_SIMD, GFX9_SGPR_FLOOR)


def expected_kernels():
    out = set()
    for ctype, (_, size) in DTYPES.items():
        for vec in (VECTOR_BYTES // size, 1):
            for variant in VARIANTS:
                dense = variant in DENSE_VARIANTS
                if dense and vec * size != VECTOR_BYTES:
                    continue
                for cached in CACHED_CHUNKS:
                    if cached * vec * size <= MAX_CACHED_BYTES[variant] and not (dense and cached == 0):
                        out.add((ctype, vec, cached, variant, ""))
                        if variant in COMPACT_VARIANTS:
                            out.add((ctype, vec, cached, variant, COMPACT))
                        if variant in SPLIT_COMPACT_VARIANTS and cached == 1:
                            out.add((ctype, vec, cached, variant, SPLIT_COMPACT))
    return out


# --- parsing --------------------------------------------------------------------
KERNEL_KEY = re.compile(r"^  - \.([\w.]+):\s*(.*)$")  # first key of a list item
FIELD_KEY = re.compile(r"^    \.([\w.]+):\s*(.*)$")   # further top-level keys
TARGET = re.compile(r"^amdhsa\.target:\s*(\S+)")


def parse_notes(text):
    """Returns (target, [kernel dict]) from `llvm-readelf --notes` output."""
    target = None
    kernels = []
    in_kernels = False
    for line in text.splitlines():
        m = TARGET.match(line)
        if m:
            target = m.group(1).strip("'\"")
        if line.startswith("amdhsa.kernels:"):
            in_kernels = True
            continue
        if not in_kernels:
            continue
        if line and not line.startswith(" "):  # next top-level key: list ended
            in_kernels = False
            continue
        m = KERNEL_KEY.match(line)
        if m:
            kernels.append({m.group(1): m.group(2).strip("'\"")})
            continue
        m = FIELD_KEY.match(line)
        if m and kernels:
            kernels[-1][m.group(1)] = m.group(2).strip("'\"")
    if target is None:
        raise ValueError("no amdhsa.target in the notes")
    # "amdgcn-amd-amdhsa--gfx942:xnack-" -> "gfx942"
    arch = target.rsplit("-", 1)[-1].split(":")[0]
    return arch, kernels


def read_notes(path, readelf):
    if path.endswith((".notes", ".txt")):
        with open(path, encoding="utf-8") as f:
            return f.read()
    return subprocess.run([readelf, "--notes", path], check=True, capture_output=True,
                          text=True).stdout


def demangle(names, cxxfilt):
    if not names:
        return {}
    out = subprocess.run([cxxfilt], input="\n".join(names) + "\n", check=True,
                         capture_output=True, text=True).stdout.splitlines()
    if len(out) != len(names):
        raise RuntimeError(f"{cxxfilt} returned {len(out)} lines for {len(names)} names")
    return dict(zip(names, out))


# void aiter::norm_rows_kernel<float, 4, 0, (aiter::NormVariant)0>(aiter::NormParams, ...)
# void aiter::norm_rows_compact_kernel<float, 4, 1, (aiter::NormVariant)257, true>(aiter::CompactLaunch)
NORM_KERNEL = re.compile(
    r"aiter::norm_rows_(?P<compact>compact_)?kernel<(?P<t>[\w:]+), (?P<vec>\d+), (?P<cached>\d+), "
    r"\(aiter::NormVariant\)(?P<variant>\d+)(?:, (?P<split>true|false))?>\(")
COMPACT = "compact"
SPLIT_COMPACT = "compact split"


# The one other kernel family the sources define: the encoders behind
# _C.quantize_bytes (csrc/kernels/quant_encode.cu), one per output format.
ENCODE_KERNEL = re.compile(r"encode_kernel<\(aiter::QuantType\)(\d)>")


def kernel_key(demangled):
    m = NORM_KERNEL.search(demangled)
    if not m:
        return None
    t = m.group("t").split("::")[-1]
    entry = (SPLIT_COMPACT if m.group("split") == "true" else COMPACT) if m.group("compact") else ""
    return (t, int(m.group("vec")), int(m.group("cached")), int(m.group("variant")), entry)


def short_name(key):
    t, vec, cached, variant, entry = key
    suffix = f" ({entry})" if entry else ""
    return f"{DTYPES.get(t, (t,))[0]} vec{vec} cached{cached} {VARIANTS.get(variant, variant)}{suffix}"


def sort_key(key):
    t, vec, cached, variant, entry = key
    order = list(DTYPES)
    return (order.index(t) if t in order else len(order), variant, -vec, cached, entry)


def as_int(kernel, field):
    v = kernel.get(field)
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


# --- report -------------------------------------------------------------------
COLUMNS = ("kernel", "VGPR", "AGPR", "SGPR", "SGPRspill", "VGPRspill", "LDS B", "scratch B",
           "waves(VGPR)", "waves")


def print_table(arch, rows):
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(COLUMNS)]

    def fmt(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    print(f"\n== {arch}: {len(rows)} kernels "
          "(waves per SIMD: VGPR limit, and min of VGPR and SGPR limits)")
    print(fmt(COLUMNS))
    print(fmt(["-" * w for w in widths]))
    for r in rows:
        print(fmt(r))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--readelf", default="llvm-readelf-19")
    ap.add_argument("--cxxfilt", default="llvm-cxxfilt-19")
    ap.add_argument("--targets", default="gfx942,gfx90a",
                    help="comma-separated targets that must all be present")
    args = ap.parse_args(argv)

    by_target = collections.defaultdict(list)  # arch -> [(file, kernel dict)]
    for path in args.files:
        arch, kernels = parse_notes(read_notes(path, args.readelf))
        by_target[arch].extend((path, k) for k in kernels)
        print(f"{path}: {arch}, {len(kernels)} kernels")

    names = sorted({k.get("name", "") for ks in by_target.values() for _, k in ks})
    pretty = demangle(names, args.cxxfilt)
    expected = expected_kernels()
    failures = []

    for arch in [t for t in args.targets.split(",") if t]:
        if arch not in by_target:
            failures.append(f"{arch}: no code object for this target")
    for arch in sorted(by_target):
        seen = collections.Counter()
        encoders = set()
        rows = []
        for path, k in by_target[arch]:
            name = k.get("name", "?")
            key = kernel_key(pretty.get(name, name))
            label = short_name(key) if key else pretty.get(name, name)
            encoder = ENCODE_KERNEL.search(pretty.get(name, name)) if key is None else None
            if encoder:
                encoders.add(int(encoder.group(1)))
            elif key is None:
                failures.append(f"{arch}: kernel not recognised: {pretty.get(name, name)}")
            else:
                seen[key] += 1
            vgpr, agpr, sgpr = as_int(k, "vgpr_count"), as_int(k, "agpr_count"), as_int(k, "sgpr_count")
            scratch = as_int(k, "private_segment_fixed_size")
            vspill, sspill = as_int(k, "vgpr_spill_count"), as_int(k, "sgpr_spill_count")
            wave = as_int(k, "wavefront_size")
            if wave != 64:
                failures.append(f"{arch}: {label}: .wavefront_size {wave}, expected 64")
            if scratch != 0 or (vspill or 0) != 0:
                failures.append(f"{arch}: {label}: spills: scratch {scratch} bytes per lane, "
                                f"{vspill} VGPRs spilled, {sspill} SGPRs spilled ({os.path.basename(path)})")
            if k.get("uses_dynamic_stack") == "true":
                failures.append(f"{arch}: {label}: uses a dynamic stack")
            wv = waves_from_vgprs(vgpr) if vgpr is not None else "?"
            ws = min(wv, waves_from_sgprs(sgpr)) if vgpr is not None and sgpr is not None else "?"
            rows.append((key or (label,), (label, vgpr, agpr, sgpr, sspill, vspill,
                                          as_int(k, "group_segment_fixed_size"), scratch, wv, ws)))
        rows.sort(key=lambda r: sort_key(r[0]) if len(r[0]) == 5 else (99, 0, 0, 0, ""))
        print_table(arch, [r for _, r in rows])
        for q in sorted(set(FORMATS) - encoders):
            failures.append(f"{arch}: missing kernel: encode_kernel for {FORMATS[q]}")
        for key in sorted(expected - set(seen), key=sort_key):
            failures.append(f"{arch}: missing kernel: {short_name(key)}")
        for key in sorted(set(seen) - expected, key=sort_key):
            failures.append(f"{arch}: unexpected kernel (update the expected list?): {short_name(key)}")
        for key, n in seen.items():
            if n > 1:
                failures.append(f"{arch}: {short_name(key)} appears in {n} code objects")

    if failures:
        print(f"\nFAILED: {len(failures)} problem(s)")
        for f in failures:
            print("  " + f)
        return 1
    total = sum(len(v) for v in by_target.values())
    print(f"\nOK: {total} kernels on {', '.join(sorted(by_target))}: all expected instantiations, "
          "wave64, no scratch, no VGPR spills")
    return 0


if __name__ == "__main__":
    sys.exit(main())
