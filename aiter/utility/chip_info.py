"""Which GPU architecture this process runs on, in upstream aiter's spelling.

``get_gfx()`` is what upstream's tests ask (``get_gfx() not in ["gfx950"]``
skips a gfx950-only case). It honours ``GPU_ARCHS`` as upstream does (the
last of a ``;``-separated list), else reads the device: the ROCm arch
(``gfx942``), ``sm_90``-style for a CUDA device, ``cpu`` without a GPU.
``runtime_gfx()`` ignores ``GPU_ARCHS``: what the device really is (it picks
the fp8 format in ``aiter.dtypes``).
"""
import functools
import os

import torch


@functools.lru_cache(maxsize=1)
def runtime_gfx() -> str:
    """The arch of GPU 0, read from torch (this initialises the device);
    ``cpu`` when there is none."""
    if torch.version.hip is not None and torch.cuda.is_available():
        # gcnArchName carries target features after a colon: "gfx942:sramecc+:xnack-".
        return torch.cuda.get_device_properties(0).gcnArchName.split(":")[0]
    if torch.version.cuda is not None and torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability(0)
        return f"sm_{major}{minor}"
    return "cpu"


@functools.lru_cache(maxsize=1)
def get_gfx() -> str:
    archs = [a.strip() for a in os.environ.get("GPU_ARCHS", "").split(";") if a.strip()]
    if archs and archs[-1].lower() != "native":
        return archs[-1]
    return runtime_gfx()
