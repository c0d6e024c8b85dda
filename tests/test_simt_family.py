"""The norm family's layout tests (test_norm_family_layouts.py: dynamic and
smooth quant in int8 / fp8 e4m3fn / e4m3fnuz, per token and per group,
LayerNorm with and without the fused add and x_bias, LayerNorm smooth quant,
the seed slice), and the fused Q/K norm's (test_qk_rmsnorm.py: the seed's
Qwen3 geometry at T = 4096 is a many-block launch), rerun unchanged on the CPU SIMT executor, as
gfx942 plans them and as a 32-lane target does: each call's launch must run
there with 0 faults (the executor raises otherwise) and match the same
float64 references."""
import pytest

from aiter import simt
from simt_cases import TARGETS, ExecutorDevice
from test_norm_family_layouts import (  # noqa: F401  (collected here on the executor)
    test_dynamic_quant_layouts,
    test_group_quant,
    test_layernorm_layouts,
    test_layernorm_smoothquant,
    test_seed_slice_quant_and_layernorm,
    test_smooth_quant_layouts,
)
from test_qk_rmsnorm import (  # noqa: F401
    test_different_layouts_and_empty_k,
    test_in_place_equals_two_rms_norm_calls,
    test_out_of_place_equals_two_rms_norm_calls,
    test_seed_geometry_qwen3,
)


@pytest.fixture(params=TARGETS)
def device(request):
    """Overrides conftest's: the test's calls run on the executor."""
    with simt.executor(request.param):
        yield ExecutorDevice("cpu", simt.TARGETS[request.param].warp)
        assert simt.report()["calls"] >= 1, "no call of the test ran on the executor"
