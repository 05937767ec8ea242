"""SQUARED_DIFFERENCE: elementwise (a - b)^2 with broadcasting (float32, int32; int8 rescaled in fixed point)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import broadcast_shape, mul_by_qm_smaller_than_one_exp, quantize_multiplier, scale_zp
from ._elementwise import batchable_binary

LEFT_SHIFT = 7


@dataclass(frozen=True)
class SqDiffParams:
    is_float: bool
    batchable: bool
    quantized: bool = False
    input1_offset: int = 0
    input2_offset: int = 0
    output_offset: int = 0
    input1_multiplier: int = 0
    input1_shift: int = 0
    input2_multiplier: int = 0
    input2_shift: int = 0
    output_multiplier: int = 0
    output_shift: int = 0
    rounding: str = "double"


@kernel("SQUARED_DIFFERENCE")
class SquaredDifference(Kernel):
    """reference: lite/kernels/squared_difference.cc. float32 ``d * d``; int32 wraps like C++. int8 (Prepare +
    the int8 SquaredDifference there): ``twice_max_input_scale = 2 * max(s1, s2)``, input multipliers
    ``s_i / twice_max`` and output multiplier ``twice_max^2 / (2**14 * s_out)`` (double), each by
    QuantizeMultiplierSmallerThanOneExp; per element ``v_i = (q_i - zp_i) << 7`` scaled by
    MultiplyByQuantizedMultiplierSmallerThanOneExp, ``raw_diff = v1 - v2``, ``raw_diff^2`` rescaled by the
    output multiplier, ``+ zp_out``, clamp to int8. LiteRT has no int16 SQUARED_DIFFERENCE."""

    def prepare(self, ctx, op):
        a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
        if not (a.type == b.type == y.type) or a.type not in (dtypes.FLOAT32, dtypes.INT32, dtypes.INT8):
            raise UnsupportedError(f"SQUARED_DIFFERENCE of {dtypes.name(a.type)}; supported: FLOAT32, INT32, INT8 "
                                   f"(LiteRT has no int16 SQUARED_DIFFERENCE)")
        broadcast_shape(a.shape or [], b.shape or [])
        batchable = batchable_binary(ctx, len(y.shape or []))
        if a.type != dtypes.INT8:
            return SqDiffParams(a.type == dtypes.FLOAT32, batchable)
        s1, z1 = scale_zp(a)
        s2, z2 = scale_zp(b)
        so, zo = scale_zp(y)
        rounding = ctx.rounding_for("double")
        twice_max_input_scale = float(np.float32(2) * np.float32(max(s1, s2)))
        real_input1_multiplier = s1 / twice_max_input_scale
        real_input2_multiplier = s2 / twice_max_input_scale
        real_output_multiplier = twice_max_input_scale * twice_max_input_scale / float(
            np.float32((1 << (2 * LEFT_SHIFT)) * np.float32(so)))
        m1, sh1 = quantize_multiplier(real_input1_multiplier, rounding)
        m2, sh2 = quantize_multiplier(real_input2_multiplier, rounding)
        mo, sho = quantize_multiplier(real_output_multiplier, rounding)
        return SqDiffParams(False, batchable, True, -z1, -z2, zo, m1, sh1, m2, sh2, mo, sho, rounding)

    def eval(self, p: SqDiffParams, inputs):
        a, b = inputs
        if p.is_float:
            d = np.subtract(a, b, dtype=np.float32)
            return [d * d]
        if not p.quantized:
            d = a.astype(np.int64) - b.astype(np.int64)
            return [((d * d) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)]
        shifted_input1_val = (a.astype(np.int64) + p.input1_offset) << LEFT_SHIFT
        shifted_input2_val = (b.astype(np.int64) + p.input2_offset) << LEFT_SHIFT
        scaled_input1_val = mul_by_qm_smaller_than_one_exp(shifted_input1_val, p.input1_multiplier,
                                                           p.input1_shift, p.rounding)
        scaled_input2_val = mul_by_qm_smaller_than_one_exp(shifted_input2_val, p.input2_multiplier,
                                                           p.input2_shift, p.rounding)
        raw_diff = scaled_input1_val - scaled_input2_val  # broadcast here
        squared_raw_diff = raw_diff * raw_diff  # <= 255^2 * 2**14: fits int32
        raw_output = mul_by_qm_smaller_than_one_exp(squared_raw_diff, p.output_multiplier, p.output_shift,
                                                    p.rounding) + p.output_offset
        return [np.clip(raw_output, -128, 127).astype(np.int8)]
