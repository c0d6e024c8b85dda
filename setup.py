"""Build the aiter extension: a CPU backend always; CUDA kernels when torch has
CUDA and nvcc is present; HIP kernels for GPU_ARCHS with a ROCm build of torch.

Environment:
  AITER_BACKEND=cpu|gpu   force a backend (default: gpu when the toolchain is there)
  GPU_ARCHS="gfx942;gfx950"  HIP targets, ';'-separated (default gfx942)
  TORCH_CUDA_ARCH_LIST    CUDA targets, as torch reads it
"""
import glob
import os

from setuptools import find_packages, setup
from torch.utils import cpp_extension
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def read(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return f.read()


def want_gpu():
    forced = os.environ.get("AITER_BACKEND", "").lower()
    if forced in ("cpu", "gpu"):
        return forced == "gpu"
    if torch.version.hip is not None:
        return cpp_extension.ROCM_HOME is not None
    return torch.version.cuda is not None and cpp_extension.CUDA_HOME is not None


def extension():
    # csrc/*.cpp are the bindings (torch.library ops, the eager pybind entry).
    host_sources = sorted(glob.glob("csrc/*.cpp") + glob.glob("csrc/host/*.cpp") + glob.glob("csrc/cpu/*.cpp"))
    cxx = ["-O3", "-std=c++17"]
    include_dirs = [os.path.join(HERE, "csrc"), os.path.join(HERE, "csrc", "include")]
    if not want_gpu():
        return cpp_extension.CppExtension(
            "aiter._C", host_sources, include_dirs=include_dirs, extra_compile_args={"cxx": cxx}
        )
    kernel_sources = sorted(glob.glob("csrc/kernels/*.cu"))
    if torch.version.hip is not None:
        archs = [a for a in os.environ.get("GPU_ARCHS", "gfx942").split(";") if a]
        device_flags = ["-O3", "-std=c++17"] + [f"--offload-arch={a}" for a in archs]
    else:
        device_flags = ["-O3", "-std=c++17", "-lineinfo"]
    # Extra device flags for experiments, e.g. AITER_DEVICE_FLAGS=-DAITER_PREFETCH_NEXT_ROW=0.
    device_flags += os.environ.get("AITER_DEVICE_FLAGS", "").split()
    return cpp_extension.CUDAExtension(
        "aiter._C",
        host_sources + kernel_sources,
        include_dirs=include_dirs,
        define_macros=[("AITER_WITH_GPU", "1")],
        extra_compile_args={"cxx": cxx + ["-DAITER_WITH_GPU=1"], "nvcc": device_flags},
    )


setup(
    name="aiter",
    version="0.1.0+strided",
    description="Stride-aware, hardened drop-in for AMD aiter's normalization ops",
    long_description=read("README.md"),
    long_description_content_type="text/markdown",
    license="MIT",
    license_files=["LICENSE"],
    packages=find_packages(include=["aiter", "aiter.*"]),
    package_data={"aiter.tuning": ["*.json"]},  # per-GPU launch tables
    python_requires=">=3.9",
    install_requires=["torch"],
    ext_modules=[extension()],
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
    zip_safe=False,
)
