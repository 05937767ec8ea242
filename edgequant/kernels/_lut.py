"""Shared pieces of the int8 LOGISTIC / TANH kernels (LiteRT LUT, tflite-micro gemmlowp fixed point)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from . import _fixedpoint as fp
from ._common import mul_by_qm, scale_zp


def lut_int8(in_s: float, in_zp: int, out_s: float, out_zp: int, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """tflite::LUTPopulateInt8: for q in [-128, 127]: ``clamp(round(fn(in_s * (q - in_zp)) * (1 / out_s)) + out_zp)``,
    every step in float32 as the C++ (fn is given float32 values and returns float32)."""
    q = np.arange(-128, 128, dtype=np.int64)
    deq = np.multiply(np.float32(in_s), (q - in_zp).astype(np.float32), dtype=np.float32)
    inv = np.divide(np.float32(1), np.float32(out_s), dtype=np.float32)
    rescaled = qmath.round_half_away(np.multiply(fn(deq), inv, dtype=np.float32))
    out = (rescaled + np.float32(out_zp)).astype(np.int64)
    return np.clip(out, -128, 127).astype(np.int8)  # index: q + 128


def sigmoid_f32(v: np.ndarray) -> np.ndarray:
    """1.0f / (1.0f + std::exp(-v)); expf evaluated in double then rounded to float (correctly rounded)."""
    e = np.exp(-v.astype(np.float64)).astype(np.float32)
    return np.divide(np.float32(1), np.add(np.float32(1), e, dtype=np.float32), dtype=np.float32)


def tanh_f32(v: np.ndarray) -> np.ndarray:
    return np.tanh(v.astype(np.float64)).astype(np.float32)


@dataclass(frozen=True)
class FixedPointAct:
    """reference_integer_ops::Logistic / Tanh (int8): gemmlowp fixed point with 4 integer bits.

    input_multiplier/input_left_shift from frexp(double(input_scale) * 2**27) as tflite-micro's Prepare
    (CalculateArithmeticOpData); input_range_radius = CalculateInputRadius(4, left_shift, 31)."""

    kind: str  # "logistic" | "tanh"
    input_zero_point: int
    input_range_radius: int
    input_multiplier: int
    input_left_shift: int

    def run(self, x: np.ndarray) -> np.ndarray:
        d = x.astype(np.int64) - self.input_zero_point
        q4 = mul_by_qm(d, self.input_multiplier, self.input_left_shift, "double")
        if self.kind == "logistic":
            y = np.asarray(qmath.rounding_divide_by_pot(fp.logistic(q4, 4), 31 - 8)) - 128
        else:
            y = np.asarray(qmath.rounding_divide_by_pot(fp.tanh(q4, 4), 31 - 7))
        y = np.clip(y, -128, 127)
        y = np.where(d <= -self.input_range_radius, -128, np.where(d >= self.input_range_radius, 127, y))
        return y.astype(np.int8)


def prepare_fixed_point(kind: str, x) -> FixedPointAct:
    in_s, in_zp = scale_zp(x)
    real = np.float64(in_s) * float(1 << 27)
    frac, left = np.frexp(real)
    mult = int(qmath.round_half_away(frac * float(1 << 31)))
    radius = int(np.floor(((1 << 4) - 1) * float(1 << (31 - 4)) / float(1 << int(left))))
    return FixedPointAct(kind, in_zp, radius, mult, int(left))


def check_int8(x, y, out_s: float, out_zp: int, op: str) -> None:
    if x.type != dtypes.INT8 or y.type != dtypes.INT8:
        raise UnsupportedError(f"{op} on {dtypes.name(x.type)} -> {dtypes.name(y.type)}")
    s, zp = scale_zp(y)
    if zp != out_zp or abs(s - out_s) > 1e-3 * out_s:
        raise UnsupportedError(f"int8 {op} output must have scale {out_s} and zero point {out_zp}")


@dataclass(frozen=True)
class ActParams:
    kind: str  # "float" | "lut" | "fixed"
    table: np.ndarray | None = None
    fixed: FixedPointAct | None = None


class SquashingActivation:
    """The shared prepare/eval of LOGISTIC and TANH; each op file names its fixed output scale and functions.

    Float: reference_ops in float32. int8 under LiteRT: activations.cc builds a 256-entry LUT with
    LUTPopulate<int8_t> in Prepare for kReference; under tflite-micro: reference_integer_ops::Logistic /
    Tanh (gemmlowp fixed point, MultiplyByQuantizedMultiplier with double rounding). int16 is not
    implemented (both runtimes use a published 256-entry sigmoid table no formula reproduces).
    """

    op: str = ""
    fixed_kind: str = ""  # prepare_fixed_point's kind
    out_scale: float = 0.0  # the int8 output's fixed quantization (TFLite's spec)
    out_zp: int = 0
    lut_fn: Callable[[np.ndarray], np.ndarray]
    float_fn: Callable[[np.ndarray], np.ndarray]

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type == dtypes.FLOAT32:
            return ActParams("float")
        if x.type == dtypes.INT16:
            raise UnsupportedError(f"int16 {self.op} is not implemented (needs the reference 256-entry sigmoid table)")
        check_int8(x, y, self.out_scale, self.out_zp, self.op)
        if ctx.target == "tflm":
            return ActParams("fixed", fixed=prepare_fixed_point(self.fixed_kind, x))
        in_s, in_zp = scale_zp(x)
        out_s, out_zp = scale_zp(y)
        return ActParams("lut", table=lut_int8(in_s, in_zp, out_s, out_zp, self.lut_fn))

    def eval(self, p: ActParams, inputs):
        x = inputs[0]
        if p.kind == "float":
            return [self.float_fn(x).astype(np.float32)]
        if p.kind == "lut":
            return [p.table[x.astype(np.int16) + 128]]
        return [p.fixed.run(x)]
