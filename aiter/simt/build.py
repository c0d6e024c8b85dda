"""Builds the CPU SIMT executor libraries from the source tree (ninja,
incremental: a no-op when nothing changed). One library per wave width:
the kernel sources compiled as C++ for the executor's HIP semantics
(csrc/include/compat.h, AITER_SIMT_CPU), instrumented for its memory checker,
linked with the executor (csrc/simt/).

    python3 -m aiter.simt.build [64 32]
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"
BUILD = ROOT / "build" / "simt"

# Kernel code: -fsanitize=thread only for its instrumentation (a call before
# each memory access, answered by csrc/simt/simt_check.cpp; no ThreadSanitizer
# runtime is linked). -O1 keeps the build to a few minutes on two cores.
# -fno-gnu-unique and -Bsymbolic keep each library's own copy of what both
# define (the kernels' __shared__ arrays above all): a unique symbol would
# bind the second library loaded to the first one's shared memory.
KERNEL_FLAGS = "-std=c++17 -O1 -fPIC -fno-gnu-unique -fsanitize=thread -Wno-unknown-pragmas"
RUNTIME_FLAGS = "-std=c++17 -O2 -fPIC -fno-gnu-unique -Wall -Wno-unknown-pragmas"
RUNTIME_SOURCES = ("simt_runtime.cpp", "simt_check.cpp", "simt_fiber.cpp", "simt_shared.cpp", "simt_entry.cpp")
INSTRUMENTED_SIMT_SOURCES = ("planted_faults.cpp",)


def library_path(warp: int) -> Path:
    return BUILD / f"libaiter_simt_w{warp}.so"


def _ninja() -> list:
    exe = shutil.which("ninja")
    if exe:
        return [exe]
    return [sys.executable, "-m", "ninja"]


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _build_file(widths) -> str:
    cxx = os.environ.get("CXX", "c++")
    lines = [
        "ninja_required_version = 1.3",
        f"cxx = {cxx}",
        f"includes = -I{CSRC} -I{CSRC / 'include'}",
        "rule cxx",
        "  command = $cxx -MMD -MF $out.d $flags $includes -c $in -o $out",
        "  depfile = $out.d",
        "  deps = gcc",
        "  description = simt: $out",
        "rule link",
        "  command = $cxx -shared -o $out $in -Wl,-z,defs -Wl,-Bsymbolic",
        "  description = simt: $out",
    ]
    for warp in widths:
        defs = f"-DAITER_SIMT_CPU -DAITER_SIMT_WARP={warp}"
        out = BUILD / f"w{warp}"
        objects = []
        units = []
        for cu in sorted((CSRC / "kernels").glob("*.cu")):
            wrapper = out / "src" / f"{cu.stem}.cpp"
            # Each kernel source as a C++ unit (the file itself is unchanged).
            _write_if_changed(wrapper, f'#include "kernels/{cu.name}"\n')
            units.append((wrapper, KERNEL_FLAGS))
        units += [(CSRC / "simt" / s, KERNEL_FLAGS) for s in INSTRUMENTED_SIMT_SOURCES]
        units += [(CSRC / "simt" / s, RUNTIME_FLAGS) for s in RUNTIME_SOURCES]
        for src, flags in units:
            obj = out / "obj" / (src.stem + ".o")
            objects.append(str(obj))
            lines += [f"build {obj}: cxx {src}", f"  flags = {flags} {defs}"]
        lines.append(f"build {library_path(warp)}: link {' '.join(objects)}")
    return "\n".join(lines) + "\n"


def build(widths=(64, 32), jobs=None, quiet=True) -> None:
    if not (CSRC / "simt").is_dir():
        raise RuntimeError(f"aiter.simt needs the source tree (csrc/simt under {ROOT}); it is not installed with wheels")
    BUILD.mkdir(parents=True, exist_ok=True)
    name = "build_" + "_".join(f"w{w}" for w in widths) + ".ninja"
    _write_if_changed(BUILD / name, _build_file(widths))
    cmd = _ninja() + ["-f", str(BUILD / name)]
    if jobs:
        cmd += ["-j", str(jobs)]
    cmd += [str(library_path(w)) for w in widths]
    run = subprocess.run(cmd, cwd=BUILD, capture_output=quiet, text=True)
    if run.returncode != 0:
        raise RuntimeError("building the SIMT executor failed:\n" + (run.stdout or "")[-6000:] + (run.stderr or "")[-4000:])


if __name__ == "__main__":
    widths = tuple(int(a) for a in sys.argv[1:]) or (64, 32)
    build(widths, quiet=False)
    for w in widths:
        print(library_path(w))
