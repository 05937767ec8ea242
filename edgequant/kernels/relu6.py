"""RELU6: float32 and int8/int16 (clamp to [0.0, 6.0] with requantization)."""

from __future__ import annotations

import numpy as np

from .. import dtypes, qmath
from . import Kernel, kernel
from ._common import scale_zp
from ._relu import ReluParams, eval_relu, prepare_relu


@kernel("RELU6")
class Relu6(Kernel):
    """reference_ops::ReluX (float clamp) and QuantizedReluX of activations.cc (int): see _relu."""

    def prepare(self, ctx, op):
        x = ctx.input(0)
        if ctx.target == "tflm" and x.type in (dtypes.INT8, dtypes.INT16):
            # tflite-micro's Relu6 clamps in the input's domain, ignoring the output's quantization:
            # [zp, zp + round(6 / scale)] (FloatToQuantizedType), no rescaling.
            s, zp = scale_zp(x)
            lo, hi = dtypes.integer_range(x.type)
            six = zp + int(qmath.round_half_away(np.divide(np.float32(6), np.float32(s), dtype=np.float32)))
            return ReluParams("clamp", max(zp, lo), min(six, hi), out_dtype=x.dtype)
        return prepare_relu(ctx, 0.0, 6.0)

    def eval(self, p, inputs):
        if p.kind == "clamp":
            return [np.clip(inputs[0], p.lo, p.hi).astype(p.out_dtype)]
        return [eval_relu(p, inputs[0])]
