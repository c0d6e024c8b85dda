"""fp4 (e2m1) helpers that upstream's norm tests call: only unpacking, since
the norm ops here do not write fp4 (a ``float4_e2m1fn_x2`` output is a
TypeError)."""
import torch

# The 16 e2m1 codes: sign bit 3, exponent bits 2-1 (bias 1), mantissa bit 0.
_E2M1_VALUES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0)


def mxfp4_to_f32(x: torch.Tensor) -> torch.Tensor:
    """Packed fp4 (two e2m1 codes per byte, the low nibble first; dtype
    float4_e2m1fn_x2 or uint8) to float32, the last dim doubled. Block scales
    are not applied."""
    codes = x.view(torch.uint8) if x.dtype != torch.uint8 else x
    low, high = codes & 0xF, codes >> 4
    table = torch.tensor(_E2M1_VALUES, dtype=torch.float32, device=codes.device)
    return table[torch.stack((low, high), dim=-1).flatten(-2).long()]
