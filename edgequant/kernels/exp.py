"""EXP: float32 elementwise exp; int8/int16 through TFLite's lookup tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import scale_zp

F32 = np.float32


def f32_of(fn, v) -> np.float32:
    """A float32 libm call (expf, logf, ...) as the correctly rounded float64 result cast to float32."""
    return F32(fn(np.float64(v)))


def lut_int8(in_scale: float, in_zp: int, out_scale: float, out_zp: int, transform, dtype=np.int8) -> np.ndarray:
    """tflite::detail::LUTPopulateInt8 in float32, indexed by ``value - min`` (256 entries)."""
    info = np.iinfo(dtype)
    inverse_scale = F32(1) / F32(out_scale)
    table = np.empty(256, np.int64)
    for k, val in enumerate(range(info.min, info.max + 1)):
        dequantized = F32(in_scale) * F32(val - in_zp)
        transformed = F32(transform(dequantized))
        with np.errstate(over="ignore", invalid="ignore"):
            rescaled = qmath.round_half_away(F32(transformed * inverse_scale))
            q = rescaled + F32(out_zp)
        # static_cast<int32_t> of an out-of-range float is undefined; x86 gives INT32_MIN
        qi = int(q) if np.isfinite(q) and abs(q) < 2**31 else -(2**31)
        table[k] = max(min(info.max, qi), info.min)
    return table.astype(dtype)


def lut_int16(in_scale: float, in_zp: int, out_scale: float, out_zp: int, transform) -> np.ndarray:
    """tflite::detail::LUTPopulateInt16<float>: 512 interpolation segments plus one end value (513)."""
    lo, hi = -32768, 32767
    input_min = F32(in_scale) * F32(lo - in_zp)
    input_max = F32(in_scale) * F32(hi - in_zp)
    output_min = F32(out_scale) * F32(lo - out_zp)
    output_max = F32(out_scale) * F32(hi - out_zp)
    nb_steps = 512
    step = F32((input_max - input_min) / F32(nb_steps))
    half_step = F32(step / F32(2))
    inv = F32(F32(65536) / F32(output_max - output_min))
    rnd = qmath.round_half_away
    table = np.empty(nb_steps + 1, np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(nb_steps):
            base = F32(input_min + F32(F32(i) * step))
            val = F32(transform(base))
            val_mid = F32(transform(F32(base + half_step)))
            val_next = F32(transform(F32(input_min + F32(F32(i + 1) * step))))
            sample_val = rnd(F32(val * inv))
            midpoint_interp_val = rnd(F32(F32(F32(val_next * inv) + rnd(F32(val * inv))) / F32(2)))
            midpoint_val = rnd(F32(val_mid * inv))
            bias = rnd(F32(F32(midpoint_interp_val - midpoint_val) / F32(2)))
            table[i] = int(min(max(F32(sample_val - bias), F32(lo)), F32(hi)))
        last = rnd(F32(F32(transform(input_max)) * inv))
        table[nb_steps] = int(min(max(last, F32(lo)), F32(hi)))
    return table


def lookup_int8(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    return table[x.astype(np.int64) - np.iinfo(x.dtype).min]


def lookup_int16(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """tflite::LUTLookup(int16): 9-bit index, 7-bit linear interpolation with rounding."""
    v = x.astype(np.int64)
    index = 256 + (v >> 7)
    offset = v & 0x7F
    base = table[index]
    slope = table[index + 1] - base
    delta = (slope * offset + 64) >> 7
    return (base + delta).astype(np.int16)


@dataclass(frozen=True)
class LutParams:
    kind: str  # "float" | "int8" | "int16"
    table: Any = None
    batchable: bool = True


def prepare_lut_op(ctx, name: str, float_fn, transform_for) -> LutParams:
    """Common prepare of the LUT-based unary ops: float32 as is, int8/int16 via a table built here.
    ``transform_for(out_scale, out_zp, dtype)`` returns the float32 -> float32 transform to tabulate."""
    x, y = ctx.input(0), ctx.output(0)
    if x.type != y.type:
        raise UnsupportedError(f"{name} input {dtypes.name(x.type)} but output {dtypes.name(y.type)}")
    if x.type == dtypes.FLOAT32:
        return LutParams("float")
    if x.type not in (dtypes.INT8, dtypes.INT16):
        raise UnsupportedError(f"{name} of {dtypes.name(x.type)}; supported: FLOAT32/INT8/INT16")
    si, zi = scale_zp(x)
    so, zo = scale_zp(y)
    if x.type == dtypes.INT16 and (zi or zo):
        raise UnsupportedError(f"int16 {name} needs zero points of 0")
    fn = transform_for(so, zo, x.dtype)
    if x.type == dtypes.INT8:
        return LutParams("int8", lut_int8(si, zi, so, zo, fn))
    return LutParams("int16", lut_int16(si, zi, so, zo, fn))


def eval_lut_op(p: LutParams, x: np.ndarray, float_fn) -> np.ndarray:
    if p.kind == "float":
        return float_fn(x)
    if p.kind == "int8":
        return lookup_int8(x, p.table)
    return lookup_int16(x, p.table)


def _exp_f32(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.exp(x.astype(np.float64)).astype(np.float32)


@kernel("EXP")
class Exp(Kernel):
    """reference: lite/kernels/exp.cc: float32 ``std::exp``; int8/int16 ``LUTPopulate`` with
    ``std::exp`` and ``LUTLookup`` (int16 interpolated)."""

    def prepare(self, ctx, op):
        return prepare_lut_op(ctx, "EXP", _exp_f32, lambda so, zo, dt: lambda v: f32_of(np.exp, v))

    def eval(self, p: LutParams, inputs):
        return [eval_lut_op(p, inputs[0], _exp_f32)]
