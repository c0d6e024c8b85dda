import pytest
import torch

import aiter


def _cuda_ready():
    return torch.cuda.is_available() and aiter.gpu_backend_available()


DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not _cuda_ready(), reason="no CUDA device or no GPU build")),
]


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(autouse=True)
def _fresh_fallback_counter():
    aiter.reset_gather_fallback_count()
    aiter.set_strict_layout(False)
    yield
    aiter.set_strict_layout(False)
