#!/usr/bin/env python3
"""FlashInfer's header-only RMSNorm kernels as a benchmark peer.

Benchmark-only: FlashInfer is not a dependency of aiter and none of it is in
this tree. At bench time the headers (`include/` of the flashinfer-python
wheel, nothing else of it) are unpacked into a cache directory and
flashinfer_norm_calls.cu (a C ABI over `flashinfer::norm::RMSNorm`,
`FusedAddRMSNorm` and `QKRMSNorm`) is built against them with nvcc into a
shared library, loaded with ctypes. No torch headers are involved, so none of
torch's `__CUDA_NO_HALF*` / `__CUDA_NO_BFLOAT16_CONVERSIONS__` defines reach
FlashInfer's vector types (the calls file undefines them as well).

Where the headers come from, first found:
  $AITER_FLASHINFER: a flashinfer-python wheel, a tarball made by `pack`, or an
                     include directory
  <repo>/.whl/flashinfer-*-include.tar.gz (made by `pack`; 1.3 MB, where the
                     101 MB wheel is too big to travel with the tree)
  <repo>/.whl/flashinfer_python-*.whl

  python3 -m pip download --no-deps flashinfer-python==0.7.4 -d /tmp/fi_wheel
  python3 op_tests/peers/flashinfer_norm.py pack /tmp/fi_wheel/flashinfer_python-0.7.4-py3-none-any.whl
  python3 op_tests/peers/flashinfer_norm.py build    # GPU machine: build ahead (cached), print the library
  python3 op_tests/peers/flashinfer_norm.py check    # nvcc compile-only check for sm_90, no GPU needed

Builds are cached under $AITER_PEER_CACHE (default ~/.cache/aiter-peers),
keyed by the FlashInfer version, the calls file, the target arch and flags.
"""
import argparse
import ctypes
import glob
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CALLS = HERE / "flashinfer_norm_calls.cu"
WHEEL_INCLUDE = "flashinfer/data/include/"  # where the wheel keeps its headers
# norm.cuh includes these through its TensorRT-LLM helpers without using
# them: where the CUDA install lacks them (cuBLAS, cuRAND headers), empty
# stand-ins, searched after every real include directory, let it parse.
UNUSED_SYSTEM_HEADERS = ("cublasLt.h", "cublas_v2.h", "curand_kernel.h")
# The defines torch's extension builds pass and FlashInfer's headers cannot take.
UNDEFINES = ["-U__CUDA_NO_HALF_OPERATORS__", "-U__CUDA_NO_HALF_CONVERSIONS__",
             "-U__CUDA_NO_HALF2_OPERATORS__", "-U__CUDA_NO_BFLOAT16_CONVERSIONS__"]
DTYPE_CODE = {"float16": 0, "bfloat16": 1}


class Unavailable(Exception):
    """FlashInfer cannot run here; the message says why."""


def cache_root() -> Path:
    return Path(os.environ.get("AITER_PEER_CACHE") or Path.home() / ".cache" / "aiter-peers")


# ----------------------------------------------------------------------------
# Headers
# ----------------------------------------------------------------------------

def find_source() -> Path:
    env = os.environ.get("AITER_FLASHINFER")
    if env:
        if not Path(env).exists():
            raise Unavailable(f"AITER_FLASHINFER={env} does not exist")
        return Path(env)
    for pattern in ("flashinfer-*-include.tar.gz", "flashinfer_python-*.whl"):
        found = sorted(glob.glob(str(REPO / ".whl" / pattern)))
        if found:
            return Path(found[-1])
    raise Unavailable(f"no FlashInfer headers: set AITER_FLASHINFER or put a flashinfer_python wheel or a "
                      f"`pack`ed headers tarball in {REPO / '.whl'}")


def _wheel_version(zf: zipfile.ZipFile) -> str:
    for name in zf.namelist():
        if name.endswith(".dist-info/METADATA"):
            for line in zf.read(name).decode("utf-8", "replace").splitlines():
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
    return "unknown"


def _wheel_license(zf: zipfile.ZipFile) -> Optional[bytes]:
    names = [n for n in zf.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    return zf.read(names[0]) if names else None


def unpack_headers(source: Path) -> tuple:
    """(include dir, version): the headers of `source` unpacked into the cache
    (once; a half-written directory is never used)."""
    if source.is_dir():
        version_file = source.parent / "VERSION"
        return source, version_file.read_text().strip() if version_file.exists() else "unknown"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    dest = cache_root() / f"flashinfer-headers-{digest}"
    if not (dest / "include" / "flashinfer" / "norm.cuh").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".unpack-"))
        if source.suffix == ".whl":
            with zipfile.ZipFile(source) as zf:
                version = _wheel_version(zf)
                for name in zf.namelist():
                    if name.startswith(WHEEL_INCLUDE) and not name.endswith("/"):
                        target = tmp / "include" / name[len(WHEEL_INCLUDE):]
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(zf.read(name))
        else:
            with tarfile.open(source) as tf:
                members = [m for m in tf.getmembers() if m.isfile() and
                           (m.name.startswith("include/") or m.name in ("VERSION", "LICENSE"))
                           and ".." not in Path(m.name).parts]
                tf.extractall(tmp, members=members)
            version = (tmp / "VERSION").read_text().strip() if (tmp / "VERSION").exists() else "unknown"
        if not (tmp / "include" / "flashinfer" / "norm.cuh").exists():
            shutil.rmtree(tmp, ignore_errors=True)
            raise Unavailable(f"{source} holds no include/flashinfer/norm.cuh")
        (tmp / "VERSION").write_text(version + "\n")
        try:
            os.replace(tmp, dest)
        except OSError:  # another process got there first
            shutil.rmtree(tmp, ignore_errors=True)
    return dest / "include", (dest / "VERSION").read_text().strip()


def pack(wheel: Path, out_dir: Path) -> Path:
    """The wheel's include/ (and its licence, its version) as a small tarball."""
    with zipfile.ZipFile(wheel) as zf:
        version = _wheel_version(zf)
        out = out_dir / f"flashinfer-{version}-include.tar.gz"
        out_dir.mkdir(parents=True, exist_ok=True)
        with tarfile.open(out, "w:gz") as tf:
            def add(name: str, data: bytes) -> None:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            add("VERSION", (version + "\n").encode())
            licence = _wheel_license(zf)
            if licence:
                add("LICENSE", licence)
            count = 0
            for name in sorted(zf.namelist()):
                if name.startswith(WHEEL_INCLUDE) and not name.endswith("/"):
                    add("include/" + name[len(WHEEL_INCLUDE):], zf.read(name))
                    count += 1
    if count == 0:
        out.unlink()
        raise SystemExit(f"{wheel}: no {WHEEL_INCLUDE} in this wheel")
    return out


# ----------------------------------------------------------------------------
# Build
# ----------------------------------------------------------------------------

def find_nvcc() -> str:
    candidates = []
    try:
        from torch.utils.cpp_extension import CUDA_HOME
        if CUDA_HOME:
            candidates.append(os.path.join(CUDA_HOME, "bin", "nvcc"))
    except Exception:
        pass
    which = shutil.which("nvcc")
    if which:
        candidates.append(which)
    candidates.append("/usr/local/cuda/bin/nvcc")
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise Unavailable("nvcc not found (CUDA_HOME, PATH, /usr/local/cuda)")


def stub_dir() -> Path:
    d = cache_root() / "unused-system-headers"
    d.mkdir(parents=True, exist_ok=True)
    for name in UNUSED_SYSTEM_HEADERS:
        path = d / name
        if not path.exists():
            path.write_text("// empty stand-in: included by FlashInfer's TensorRT-LLM helpers, unused by norm.cuh\n")
    return d


def nvcc_command(nvcc: str, include: Path, arch: str, out: Path, compile_only: bool = False) -> list:
    cmd = [nvcc, "-std=c++17", "-O3", f"-gencode=arch=compute_{arch},code=sm_{arch}",
           "-I", str(include), "-Xcompiler", f"-idirafter,{stub_dir()}", *UNDEFINES]
    cmd += ["-c"] if compile_only else ["-shared", "-Xcompiler", "-fPIC"]
    return cmd + ["-o", str(out), str(CALLS)]


def build(arch: Optional[str] = None) -> tuple:
    """(path of the built library, FlashInfer version); built once per key."""
    include, version = unpack_headers(find_source())
    if arch is None:
        import torch
        if not torch.cuda.is_available():
            raise Unavailable("no CUDA device")
        major, minor = torch.cuda.get_device_capability()
        arch = f"{major}{minor}"
    nvcc = find_nvcc()
    key = hashlib.sha256("\0".join([version, CALLS.read_text(), arch, nvcc, *UNDEFINES,
                                    str(include)]).encode()).hexdigest()[:16]
    lib = cache_root() / f"libfi_norm-{version}-sm{arch}-{key}.so"
    if not lib.exists():
        tmp = lib.with_suffix(f".tmp{os.getpid()}.so")
        proc = subprocess.run(nvcc_command(nvcc, include, arch, tmp), capture_output=True, text=True)
        if proc.returncode != 0:
            raise Unavailable(f"nvcc failed building the FlashInfer calls: {(proc.stderr or proc.stdout)[-1500:]}")
        os.replace(tmp, lib)
    return lib, version


# ----------------------------------------------------------------------------
# The peer
# ----------------------------------------------------------------------------

def _dtype_name(t) -> str:
    return str(t.dtype).replace("torch.", "")


class FlashInferNorm:
    """FlashInfer's RMSNorm, FusedAddRMSNorm and QKRMSNorm on torch tensors
    (fp16 / bf16, CUDA, last dim contiguous; 32-bit strides as FlashInfer
    takes them). Layouts FlashInfer cannot express raise ValueError."""

    def __init__(self, lib_path: Path, version: str):
        self.version, self.path = version, lib_path
        self._lib = ctypes.CDLL(str(lib_path))
        u32, f32, ptr = ctypes.c_uint32, ctypes.c_float, ctypes.c_void_p
        self._lib.fi_rmsnorm.argtypes = [ctypes.c_int, ptr, ptr, ptr, u32, u32, u32, u32, f32, ptr]
        self._lib.fi_fused_add_rmsnorm.argtypes = [ctypes.c_int, ptr, ptr, ptr, u32, u32, u32, u32, f32, ptr]
        self._lib.fi_qk_rmsnorm.argtypes = [ctypes.c_int, ptr, ptr, ptr, u32, u32, u32, u32, u32, u32, u32, f32, ptr]
        self._lib.fi_error_string.restype = ctypes.c_char_p
        for fn in (self._lib.fi_rmsnorm, self._lib.fi_fused_add_rmsnorm, self._lib.fi_qk_rmsnorm):
            fn.restype = ctypes.c_int

    @staticmethod
    def _check(name: str, t, rank: int) -> None:
        if t.device.type != "cuda":
            raise ValueError(f"{name}: needs a CUDA tensor")
        if _dtype_name(t) not in DTYPE_CODE:
            raise ValueError(f"{name}: FlashInfer's norms here take fp16 / bf16, not {t.dtype}")
        if t.dim() != rank or t.stride(-1) != 1:
            raise ValueError(f"{name}: needs a {rank}-D view with a unit-stride last dim, got "
                             f"{tuple(t.shape)} stride {t.stride()}")
        # FlashInfer's vector width is gcd(16 bytes, d): pointers and strides must follow.
        vec = 16 // t.element_size()
        width = vec if t.shape[-1] % vec == 0 else 1
        if t.data_ptr() % (width * t.element_size()) or any(s % width for s in t.stride()[:-1]):
            raise ValueError(f"{name}: pointer or row stride not aligned to FlashInfer's {width}-element vectors")
        if any(s >= 1 << 32 for s in t.stride()) or any(n >= 1 << 32 for n in t.shape):
            raise ValueError(f"{name}: FlashInfer takes 32-bit sizes and strides")

    def _call(self, fn, *args) -> None:
        import torch
        rc = fn(*args, ctypes.c_void_p(torch.cuda.current_stream().cuda_stream))
        if rc != 0:
            raise RuntimeError(f"FlashInfer {fn.__name__}: {self._lib.fi_error_string(rc).decode()}")

    def rmsnorm(self, out, x, w, eps: float):
        """out = rmsnorm(x) * w over the rows of 2-D views (each with one row stride)."""
        self._check("x", x, 2)
        self._check("out", out, 2)
        self._check("weight", w, 1)
        if out.shape != x.shape or w.shape[0] != x.shape[1] or not (x.dtype == out.dtype == w.dtype):
            raise ValueError("rmsnorm: shapes / dtypes of out, x, weight do not match")
        self._call(self._lib.fi_rmsnorm, DTYPE_CODE[_dtype_name(x)], x.data_ptr(), w.data_ptr(), out.data_ptr(),
                   x.shape[0], x.shape[1], x.stride(0), out.stride(0), eps)
        return out

    def fused_add_rmsnorm(self, x, residual, w, eps: float):
        """In place, as FlashInfer's API is: residual += x, x = rmsnorm(residual) * w."""
        self._check("x", x, 2)
        self._check("residual", residual, 2)
        self._check("weight", w, 1)
        if residual.shape != x.shape or w.shape[0] != x.shape[1] or not (x.dtype == residual.dtype == w.dtype):
            raise ValueError("fused_add_rmsnorm: shapes / dtypes of x, residual, weight do not match")
        self._call(self._lib.fi_fused_add_rmsnorm, DTYPE_CODE[_dtype_name(x)], x.data_ptr(), residual.data_ptr(),
                   w.data_ptr(), x.shape[0], x.shape[1], x.stride(0), residual.stride(0), eps)
        return x, residual

    def qk_rmsnorm(self, out, x, w, eps: float):
        """out[t, h] = rmsnorm(x[t, h]) * w over (tokens, heads, head_dim) views
        (e.g. the Q or K slice of a packed QKV buffer), QKRMSNorm's persistent kernel."""
        self._check("x", x, 3)
        self._check("out", out, 3)
        self._check("weight", w, 1)
        if out.shape != x.shape or w.shape[0] != x.shape[2] or not (x.dtype == out.dtype == w.dtype):
            raise ValueError("qk_rmsnorm: shapes / dtypes of out, x, weight do not match")
        self._call(self._lib.fi_qk_rmsnorm, DTYPE_CODE[_dtype_name(x)], x.data_ptr(), w.data_ptr(), out.data_ptr(),
                   x.shape[0], x.shape[1], x.shape[2], x.stride(0), x.stride(1), out.stride(0), out.stride(1), eps)
        return out


_LOADED: dict = {}


def load() -> FlashInferNorm:
    """The peer (built on first use, once per process); Unavailable with the
    reason otherwise (the same reason on every later call)."""
    if "peer" not in _LOADED:
        try:
            _LOADED["peer"] = FlashInferNorm(*build())
        except Unavailable as e:
            _LOADED["peer"] = e
        except OSError as e:  # ctypes could not load the library
            _LOADED["peer"] = Unavailable(f"could not load the built library: {e}")
    peer = _LOADED["peer"]
    if isinstance(peer, Unavailable):
        raise peer
    return peer


def compile_check(arch: str = "90") -> str:
    """nvcc -c of the calls file against the headers (no GPU, no torch): the
    object's path. Raises Unavailable with nvcc's output on failure."""
    include, version = unpack_headers(find_source())
    out = Path(tempfile.mkdtemp(prefix="fi-check-")) / "flashinfer_norm_calls.o"
    proc = subprocess.run(nvcc_command(find_nvcc(), include, arch, out, compile_only=True),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise Unavailable(f"nvcc -c failed: {(proc.stderr or proc.stdout)[-3000:]}")
    return f"FlashInfer {version}: {CALLS.name} compiles for sm_{arch} ({out})"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pk = sub.add_parser("pack", help="a wheel's include/ as <out>/flashinfer-<version>-include.tar.gz")
    pk.add_argument("wheel", type=Path)
    pk.add_argument("--out", type=Path, default=REPO / ".whl")
    b = sub.add_parser("build", help="build the calls library for this GPU (or --arch) and print its path")
    b.add_argument("--arch", help="e.g. 90 (default: the current GPU's)")
    c = sub.add_parser("check", help="compile-only check (nvcc -c), no GPU needed")
    c.add_argument("--arch", default="90")
    args = p.parse_args(argv)
    try:
        if args.cmd == "pack":
            print(pack(args.wheel, args.out))
        elif args.cmd == "build":
            lib, version = build(args.arch)
            print(f"FlashInfer {version}: {lib}")
        else:
            print(compile_check(args.arch))
    except Unavailable as e:
        print(f"FlashInfer unavailable: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
