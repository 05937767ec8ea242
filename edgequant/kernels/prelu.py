"""PRELU: x >= 0 ? x : alpha * x with a broadcast alpha tensor (float32; int8/int16 requantized)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import broadcast_shape, scale_zp
from ._elementwise import batchable_binary

F32 = np.float32


@dataclass(frozen=True)
class PreluParams:
    kind: str
    batchable: bool
    input_offset: int = 0
    alpha_offset: int = 0
    output_offset: int = 0
    output_multiplier_1: int = 0
    output_shift_1: int = 0
    output_multiplier_2: int = 0
    output_shift_2: int = 0
    out_dtype: Any = None


@kernel("PRELU")
class Prelu(Kernel):
    """reference: lite/kernels/activations.cc PreluPrepare / reference_ops::BroadcastPrelu4DSlow:
    ``v = q + input_offset``; ``v >= 0``: ``MultiplyByQuantizedMultiplier(v, m1, s1)``, else
    ``MultiplyByQuantizedMultiplier(v * (alpha + alpha_offset), m2, s2)``; ``+ output_offset``, clamp.
    ``m1 = s_in / s_out``,
    ``m2 = s_in * s_alpha / s_out``, then QuantizeMultiplier. int16 activations take an int8 alpha
    (BroadcastPrelu4DSlow<int16_t, int8_t>; LiteRT 2.3.0 reads any int16 alpha as int8 bytes, so an int16 alpha
    is refused rather than reproduced); the int32 product ``v * alpha`` cannot overflow then.

    The real multipliers differ by target: LiteRT's PreluPrepare computes both in float, tflite-micro's
    CalculatePreluParams casts each scale to double first. The two give Q31 multipliers up to ~2^7 units apart
    (float keeps 24 bits), which moves an output by one next to a rounding boundary (the
    PRELU__*_tflm_multipliers goldens: one element on each path)."""

    def prepare(self, ctx, op):
        x, a, y = ctx.input(0), ctx.input(1), ctx.output(0)
        alpha_type = dtypes.INT8 if x.type == dtypes.INT16 else x.type
        if x.type != y.type or a.type != alpha_type or x.type not in (dtypes.FLOAT32, dtypes.INT8, dtypes.INT16):
            raise UnsupportedError(f"PRELU of {dtypes.name(x.type)} with alpha {dtypes.name(a.type)}; supported: "
                                   f"FLOAT32 with FLOAT32 alpha, INT8 with INT8 alpha, INT16 with INT8 alpha")
        broadcast_shape(x.shape or [], a.shape or [])
        batchable = batchable_binary(ctx, len(y.shape or []))
        if x.type == dtypes.FLOAT32:
            return PreluParams("float", batchable)
        si, zi = scale_zp(x)
        sa, za = scale_zp(a)
        so, zo = scale_zp(y)
        if ctx.target == "tflm":
            real_1 = np.float64(si) / np.float64(so)
            real_2 = np.float64(si) * np.float64(sa) / np.float64(so)
        else:
            real_1 = np.float64(F32(F32(si) / F32(so)))
            real_2 = np.float64(F32(F32(F32(si) * F32(sa)) / F32(so)))
        m1, s1 = qmath.quantize_multiplier(real_1)
        m2, s2 = qmath.quantize_multiplier(real_2)
        return PreluParams("q", batchable, -zi, -za, zo, m1, s1, m2, s2, x.dtype)

    def eval(self, p: PreluParams, inputs):
        x, a = inputs
        if p.kind == "float":
            return [np.where(x >= 0, x, x * a).astype(np.float32)]
        v = x.astype(np.int64) + p.input_offset
        av = a.astype(np.int64) + p.alpha_offset
        pos = qmath.multiply_by_quantized_multiplier(v, p.output_multiplier_1, p.output_shift_1)
        neg = qmath.multiply_by_quantized_multiplier(v * av, p.output_multiplier_2, p.output_shift_2)
        out = np.where(v >= 0, pos, neg) + p.output_offset
        info = np.iinfo(p.out_dtype)
        return [np.clip(out, info.min, info.max).astype(p.out_dtype)]
