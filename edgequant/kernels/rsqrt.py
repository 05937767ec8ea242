"""RSQRT: float32 1/sqrt(x); int8 by TFLite's fixed-point inverse square root; int16 by lookup table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes, qmath
from ..errors import EdgequantError, UnsupportedError
from . import Kernel, kernel
from ._common import scale_zp
from ._fixedpoint import mul, sat_pot
from .exp import F32, f32_of, lookup_int8, lookup_int16, lut_int16


def inv_sqrt_quantized_multiplier_exp(value: int) -> tuple[int, int]:
    """tflite::GetInvSqrtQuantizedMultiplierExp(value, kReverseShift): (multiplier, shift), scalar."""
    if value <= 1:
        return qmath.INT32_MAX, 0
    shift = 11
    while value >= (1 << 29):
        value //= 4
        shift += 1
    clz = 32 - int(value).bit_length()
    left_shift_bit_pairs = (clz - 1) // 2 - 1
    shift -= left_shift_bit_pairs
    value <<= 2 * left_shift_bit_pairs
    fixedpoint_input = value >> 1  # F3
    half_input = int(sat_pot(fixedpoint_input, -1))  # F3
    half_three = (1 << 28) + (1 << 27)  # F3 1.5
    x = 1 << 28  # F3 one
    for _ in range(5):
        x3 = int(sat_pot(mul(mul(x, x), x), 6))  # F9 -> F3
        x = int(sat_pot(int(mul(half_three, x)) - int(mul(half_input, x3)), 3))  # F6 -> F3
    x = int(mul(x, 1518500250))  # * sqrt(2)/2 (F0)
    if shift < 0:
        x = int(qmath.wrap_int32(x << -shift))
        shift = 0
    return x, -shift


@dataclass(frozen=True)
class RsqrtParams:
    kind: str
    table: Any = None
    input_offset: int = 0
    batchable: bool = True


@kernel("RSQRT")
class Rsqrt(Kernel):
    """reference: lite/kernels/elementwise.cc RsqrtEval. int8: per value ``v = q - zp_in`` (v < 0 is an
    error, v == 0 gives 127), ``data = MultiplyByQuantizedMultiplier(1, inv_sqrt_m, inv_sqrt_s + 20)``,
    ``MultiplyByQuantizedMultiplier(data, m, s - 20) + zp_out`` with ``m, s = QuantizeMultiplier(1 /
    (sqrt(s_in) * s_out))``; tabulated here for all 256 inputs. int16: LUTPopulate of ``1/sqrtf`` (v <= 0
    maps to 32767 * s_out)."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type != y.type or x.type not in (dtypes.FLOAT32, dtypes.INT8, dtypes.INT16):
            raise UnsupportedError(f"RSQRT of {dtypes.name(x.type)} into {dtypes.name(y.type)}")
        if x.type == dtypes.FLOAT32:
            return RsqrtParams("float")
        si, zi = scale_zp(x)
        so, zo = scale_zp(y)
        if x.type == dtypes.INT16:
            if zi or zo:
                raise UnsupportedError("int16 RSQRT needs zero points of 0")
            out_scale = F32(so)

            def fn(v):
                return F32(F32(32767) * out_scale) if v <= 0 else F32(F32(1) / f32_of(np.sqrt, v))
            return RsqrtParams("int16", lut_int16(si, zi, so, zo, fn), zi)
        scale = 1.0 / float(F32(np.sqrt(F32(si)) * F32(so)))  # sqrtf(s_in) * s_out in float, 1. / that in double
        m, s = qmath.quantize_multiplier(scale)
        table = np.empty(256, np.int64)
        for k, q in enumerate(range(-128, 128)):
            v = q - zi
            if v <= 0:
                table[k] = 127
                continue
            im, ish = inv_sqrt_quantized_multiplier_exp(v)
            data = int(qmath.multiply_by_quantized_multiplier(1, im, ish + 20))
            out = int(qmath.multiply_by_quantized_multiplier(data, m, s - 20)) + zo
            table[k] = min(max(out, -128), 127)
        return RsqrtParams("int8", table.astype(np.int8), zi)

    def eval(self, p: RsqrtParams, inputs):
        x = inputs[0]
        if p.kind == "float":
            with np.errstate(divide="ignore", invalid="ignore"):
                return [np.float32(1) / np.sqrt(x)]
        if np.any(x.astype(np.int64) < p.input_offset):
            raise EdgequantError("RSQRT is only defined for positive values")
        return [lookup_int8(x, p.table) if p.kind == "int8" else lookup_int16(x, p.table)]
