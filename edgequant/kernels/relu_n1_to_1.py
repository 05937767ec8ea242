"""RELU_N1_TO_1: clamp to [-1, 1] (float32; int8/int16 requantized then clamped to q(-1)..q(1))."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import scale_zp


@dataclass(frozen=True)
class ReluXParams:
    kind: str
    input_offset: int = 0
    output_offset: int = 0
    multiplier: int = 0
    shift: int = 0
    act_min: int = 0
    act_max: int = 0
    out_dtype: Any = None
    batchable: bool = True


@kernel("RELU_N1_TO_1")
class ReluN1To1(Kernel):
    """reference: lite/kernels/activations.cc Relu1Eval / QuantizedReluX: ``m, s =
    QuantizeMultiplier(s_in / s_out)`` (double), ``y = zp_out + MultiplyByQuantizedMultiplier(q - zp_in,
    m, s)``, clamped to ``[max(qmin, zp_out + round(-1 / s_out)), min(qmax, zp_out + round(1 / s_out))]``."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type != y.type or x.type not in (dtypes.FLOAT32, dtypes.INT8, dtypes.INT16, dtypes.UINT8):
            raise UnsupportedError(f"RELU_N1_TO_1 of {dtypes.name(x.type)} into {dtypes.name(y.type)}")
        if x.type == dtypes.FLOAT32:
            return ReluXParams("float")
        si, zi = scale_zp(x)
        so, zo = scale_zp(y)
        m, s = qmath.quantize_multiplier(np.float64(np.float32(si) / np.float32(so)))
        lo, hi = dtypes.integer_range(x.type)
        q = np.float32(so)
        act_min = max(lo, zo + int(qmath.round_half_away(np.float32(-1.0) / q)))
        act_max = min(hi, zo + int(qmath.round_half_away(np.float32(1.0) / q)))
        return ReluXParams("q", -zi, zo, m, s, act_min, act_max, x.dtype)

    def eval(self, p: ReluXParams, inputs):
        x = inputs[0]
        if p.kind == "float":
            return [np.clip(x, np.float32(-1), np.float32(1))]
        v = qmath.multiply_by_quantized_multiplier(x.astype(np.int64) + p.input_offset, p.multiplier, p.shift)
        v = np.asarray(v) + p.output_offset
        return [np.clip(v, p.act_min, p.act_max).astype(p.out_dtype)]
