"""Local memory in the built CUDA kernels (runs on the GPU machine).

The dense-row kernels (NormVariant bit 0x100) serve 2D views and the Q/K
slices of a packed QKV buffer, the layouts that must run at copy bandwidth.
Stack or spilled registers there once went unnoticed for a round: dynamic
int8 RMSNorm-quant at hidden 4096 fell from 91% to 72% of copy (48 bytes of
stack at its 64-register bound). cuobjdump reads the extension's cubins, so
the check needs the CUDA toolkit next to the GPU build; the gfx9 kernels get
the same check from tools/codeobject_report.py.
"""
import os
import re
import shutil
import subprocess

import pytest
import torch

import aiter
from aiter import _backend

DENSE_ROWS_BIT = 0x100  # csrc/include/norm_params.h: variant_dense_rows


def _cuobjdump():
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if home and os.path.exists(os.path.join(home, "bin", "cuobjdump")):
            return os.path.join(home, "bin", "cuobjdump")
    return shutil.which("cuobjdump")


def row_kernel_resources(tool, library):
    """{mangled norm_rows_kernel / norm_rows_compact_kernel name: {"REG": n, "STACK": n, "LOCAL": n, ...}}."""
    text = subprocess.run([tool, "-res-usage", library], capture_output=True, text=True, check=True).stdout
    kernels, name = {}, None
    for line in text.splitlines():
        head = re.match(r"\s*Function (\S+):", line)
        if head:
            name = head.group(1)
            continue
        if name is not None and "REG:" in line:
            if re.search(r"norm_rows_(compact_)?kernel", name):  # compact: CompactLaunch entries
                kernels[name] = {k: int(v) for k, v in re.findall(r"([A-Z]+):(\d+)", line)}
            name = None
    return kernels


def variant_of(mangled):
    return int(re.search(r"NormVariantE(\d+)E", mangled).group(1))


def test_cuda_dense_row_kernels_use_no_local_memory():
    if not (torch.cuda.is_available() and aiter.gpu_backend_available()) or torch.version.hip:
        pytest.skip("needs a CUDA device and a CUDA build (runs on the H100)")
    tool = _cuobjdump()
    if tool is None:
        pytest.skip("cuobjdump (CUDA toolkit) not found")
    kernels = row_kernel_resources(tool, _backend._C.__file__)
    dense = {n: r for n, r in kernels.items() if variant_of(n) & DENSE_ROWS_BIT}
    assert dense, f"no dense-row kernels found in {_backend._C.__file__} ({len(kernels)} row kernels)"
    offenders = {n: r for n, r in dense.items() if r.get("STACK", 0) or r.get("LOCAL", 0)}
    assert not offenders, "dense-row kernels with local memory (stack / spills):\n" + "\n".join(
        f"  {n}: REG {r.get('REG')} STACK {r.get('STACK')} LOCAL {r.get('LOCAL')}" for n, r in sorted(offenders.items()))
