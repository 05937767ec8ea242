"""Shared pieces of the LOGISTIC / TANH kernels: int8 (LiteRT LUT, tflite-micro gemmlowp fixed point) and int16
(reference_integer_ops' interpolation in the 256-entry sigmoid table, the same in both runtimes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

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


@cache
def sigmoid_table_uint16() -> np.ndarray:
    """TFLite's sigmoid_table_uint16 (256 entries, int64), measured by tools/measure_sigmoid_lut.py."""
    from ._sigmoid_lut_q16 import SIGMOID_TABLE_UINT16

    table = np.array(SIGMOID_TABLE_UINT16, np.int64)
    table.setflags(write=False)
    return table


def checked_log2(x: float) -> tuple[bool, int]:
    """tflite::CheckedLog2 in float32: (log2(x) within 1e-3 of an integer, that integer rounded half away)."""
    lg = np.float32(np.log(np.float32(x))) * np.float32(np.float32(1) / np.log(np.float32(2)))
    rounded = qmath.round_half_away(np.float32(lg))
    return bool(abs(np.float32(lg - rounded)) < np.float32(1e-3)), int(rounded)


def int16_input_params(kind: str, in_scale: float) -> tuple[int, int]:
    """(input_multiplier, input_left_shift) as LogisticPrepare/TanhPrepare set them for int16 (LiteRT's
    activations.cc and tflite-micro's logistic_common.cc / tanh.cc agree): 0 and the shift for a power-of-two
    input scale of 2^-12 (TANH also 2^-11), else the scale times 3 * 4096 doubled until above 32767 / 2
    (in double, truncated to int32) and the number of doublings."""
    pot, log2 = checked_log2(in_scale)
    left_shift = (15 - 3) + log2
    if pot and (left_shift == 0 or (kind == "tanh" and left_shift == 1)):
        return 0, left_shift
    multiplier = float(in_scale) * 4096.0 * 3.0
    left_shift = 0
    while multiplier <= 32767.0 / 2.0 and left_shift <= 30:
        left_shift += 1
        multiplier *= 2.0
    return int(multiplier), left_shift


def int16_input_data(x: np.ndarray, input_multiplier: int, input_left_shift: int) -> np.ndarray:
    """reference_integer_ops::Logistic/Tanh (int16): ``(x * input_multiplier + round) >> input_left_shift`` in
    int32 (two's-complement wrap), where a zero multiplier means the power-of-two case ``3 << left_shift``."""
    if input_multiplier == 0:
        input_multiplier, input_left_shift = 3 << input_left_shift, 0
    rnd = 1 << (input_left_shift - 1) if input_left_shift > 0 else 0
    acc = qmath.wrap_int32(x.astype(np.int64) * input_multiplier + rnd)
    return np.asarray(acc) >> input_left_shift


def interpolate_int16(kind: str, input_data: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The table interpolation of reference_integer_ops::Logistic / Tanh (int16) on their int32 input_data.

    LOGISTIC interpolates on 9 fractional bits (uh = |d| >> 9) and drops 10 bits with rounding; TANH uses
    tanh(x) = 2 sigmoid(2x) - 1: 8 fractional bits, then drops 8. Both saturate from uh >= 255 and mirror
    negative inputs; the int32 result is cast to int16 (wrapping, as the C++ assignment does)."""
    frac = 9 if kind == "logistic" else 8
    a = np.abs(input_data)  # (...) int64: |INT32_MIN| = 2^31 as the C++'s uint32 abs
    uh = a >> frac
    ut = a & ((1 << frac) - 1)
    i = np.minimum(uh, 254)
    ua, ub = table[i], table[i + 1]
    neg = input_data < 0
    if kind == "logistic":
        res = np.where(uh >= 255, 0x7FFF << 10, (ua << 9) + ut * (ub - ua))  # uint32 in C++, never above 2^25
        out = np.where(neg, (1 << 25) - res + (1 << 9) - 1, res + (1 << 9)) >> 10
    else:
        res = np.where(uh >= 255, 0xFFFF << 8, (ua << 8) + ut * (ub - ua))  # int32 in C++
        out = np.where(neg, -res + (1 << 23) + (1 << 7) - 1, res - (1 << 23) + (1 << 7)) >> 8
    return out.astype(np.int16)  # the C++ assigns the int32 to an int16: wraps


@dataclass(frozen=True)
class TableAct:
    """reference_integer_ops::Logistic / Tanh for int16 (zero points 0, output scale 2^-15)."""

    kind: str  # "logistic" | "tanh"
    input_multiplier: int
    input_left_shift: int
    table: np.ndarray  # (256,) int64 sigmoid_table_uint16

    def run(self, x: np.ndarray) -> np.ndarray:
        return interpolate_int16(self.kind, int16_input_data(x, self.input_multiplier, self.input_left_shift),
                                 self.table)


def prepare_int16(kind: str, op: str, x, y, target: str) -> TableAct:
    if y.type != dtypes.INT16:
        raise UnsupportedError(f"{op} on int16 -> {dtypes.name(y.type)}")
    in_s, in_zp = scale_zp(x)
    out_s, out_zp = scale_zp(y)
    if in_zp != 0 or out_zp != 0:
        raise UnsupportedError(f"int16 {op} needs zero points 0 (got input {in_zp}, output {out_zp})")
    if not in_s > 0:
        raise UnsupportedError(f"int16 {op}: input scale {in_s} is not positive")
    pot, log2 = checked_log2(out_s) if out_s > 0 else (False, 0)
    if not pot or log2 != -15:
        raise UnsupportedError(f"int16 {op} output scale must be 2^-15 (got {out_s})")
    if kind == "logistic" and target == "litert" and np.float32(out_s) != np.float32(1 / 32768):
        raise UnsupportedError(f"int16 {op} output scale must be exactly 1/32768 (got {out_s})")  # SigmoidPrepare
    mult, shift = int16_input_params(kind, in_s)
    return TableAct(kind, mult, shift, sigmoid_table_uint16())


def check_int8(x, y, out_s: float, out_zp: int, op: str) -> None:
    if x.type != dtypes.INT8 or y.type != dtypes.INT8:
        raise UnsupportedError(f"{op} on {dtypes.name(x.type)} -> {dtypes.name(y.type)}")
    s, zp = scale_zp(y)
    if zp != out_zp or abs(s - out_s) > 1e-3 * out_s:
        raise UnsupportedError(f"int8 {op} output must have scale {out_s} and zero point {out_zp}")


@dataclass(frozen=True)
class ActParams:
    kind: str  # "float" | "lut" | "fixed" | "int16"
    table: np.ndarray | None = None
    fixed: FixedPointAct | TableAct | None = None


class SquashingActivation:
    """The shared prepare/eval of LOGISTIC and TANH; each op file names its fixed output scale and functions.

    Float: reference_ops in float32. int8 under LiteRT: activations.cc builds a 256-entry LUT with
    LUTPopulate<int8_t> in Prepare for kReference; under tflite-micro: reference_integer_ops::Logistic /
    Tanh (gemmlowp fixed point, MultiplyByQuantizedMultiplier with double rounding). int16 in both: the int16
    reference_integer_ops::Logistic / Tanh, interpolating TFLite's 256-entry sigmoid table (measured from
    LiteRT by tools/measure_sigmoid_lut.py, see _sigmoid_lut_q16).
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
            return ActParams("int16", fixed=prepare_int16(self.fixed_kind, self.op, x, y, ctx.target))
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
        return [p.fixed.run(x)]  # "fixed" and "int16"
