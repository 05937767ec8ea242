"""Quantized SOFTMAX: int8 -> int8/int16 as reference_ops::Softmax (gemmlowp fixed point) and int16 -> int16
as reference_ops::SoftmaxInt16 (interpolated exp and reciprocal tables)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from . import _fixedpoint as fp
from ._common import mul_by_qm, mul_by_qm_greater_than_one, quantize_multiplier, scale_zp

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12


@dataclass(frozen=True)
class QuantSoftmax:
    """SoftmaxParams: input_multiplier / input_left_shift from PreprocessSoftmaxScaling(beta,
    input_scale, 5) (double, QuantizeMultiplierGreaterThanOne), diff_min = -CalculateInputRadius(5,
    left_shift). Output: int8 (zero point -128, scale 1/256) or int16 (zero point -32768)."""

    input_multiplier: int
    input_left_shift: int
    diff_min: int
    out_bits: int
    out_dtype: object
    rounding: str

    def run(self, x: np.ndarray) -> np.ndarray:
        xi = x.astype(np.int64)
        diff = xi - xi.max(axis=-1, keepdims=True)
        valid = diff >= self.diff_min
        rescaled = mul_by_qm_greater_than_one(diff, self.input_multiplier, self.input_left_shift, self.rounding)
        exps = fp.exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS)  # F0
        acc = np.where(valid, fp.rescale(exps, 0, ACCUMULATION_INTEGER_BITS), 0)
        sum_of_exps = acc.sum(axis=-1, keepdims=True)  # F12 raws; int32 adds in C++ (no overflow here)
        shifted_scale, num_bits_over_unit = fp.get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS)
        prod = fp.mul(shifted_scale, exps)
        unsat = qmath.rounding_divide_by_pot(prod, num_bits_over_unit + 31 - self.out_bits)
        info = np.iinfo(self.out_dtype)
        out = np.clip(np.asarray(unsat) + info.min, info.min, info.max)
        return np.where(valid, out, info.min).astype(self.out_dtype)


def prepare_quantized(ctx, beta: float) -> QuantSoftmax:
    x, y = ctx.input(0), ctx.output(0)
    if x.type == dtypes.INT16 and y.type == dtypes.INT16:
        return prepare_quantized_int16(ctx, beta)  # type: ignore[return-value]
    if x.type != dtypes.INT8 or y.type not in (dtypes.INT8, dtypes.INT16):
        raise UnsupportedError(f"SOFTMAX {dtypes.name(x.type)} -> {dtypes.name(y.type)}")
    in_s, _ = scale_zp(x)
    out_s, out_zp = scale_zp(y)
    if y.type == dtypes.INT8 and (out_zp != -128 or np.float32(out_s) != np.float32(1.0 / 256)):
        raise UnsupportedError(f"int8 SOFTMAX output must have scale 1/256 and zero point -128 (got {out_s}, {out_zp})")
    if y.type == dtypes.INT16 and out_zp != -32768:
        raise UnsupportedError(f"int16 SOFTMAX output from int8 must have zero point -32768 (got {out_zp})")
    cap = float((1 << 30) - 1) if ctx.rounding_for("double") == "single" else float((1 << 31) - 1)
    real = min(np.float64(beta) * np.float64(in_s) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), cap)
    mult, shift = quantize_multiplier(real, ctx.rounding_for("double"))
    radius = np.floor(1.0 * ((1 << SCALED_DIFF_INTEGER_BITS) - 1) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS))
                      / float(1 << shift))
    bits = 8 if y.type == dtypes.INT8 else 16
    return QuantSoftmax(int(mult), int(shift), -int(radius), bits, y.dtype, ctx.rounding_for("double"))


def lut_populate_int16(fn, in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """LUTPopulateInt16<double>: 512 segments + end point; each sample is biased by half the rounding error of
    the segment midpoint so that linear interpolation is centred. Halves round away from zero."""
    rnd = qmath.round_half_away
    in_min = in_scale * (-32768 - in_zp)
    in_max = in_scale * (32767 - in_zp)
    inv = 65536.0 / (out_scale * (32767 - out_zp) - out_scale * (-32768 - out_zp))
    step = (in_max - in_min) / 512
    i = np.arange(512, dtype=np.float64)
    val = fn(in_min + i * step)
    val_mid = fn(in_min + i * step + step / 2)
    val_next = fn(in_min + (i + 1) * step)
    sample = rnd(val * inv)
    interp = rnd((val_next * inv + rnd(val * inv)) / 2)
    bias = rnd((interp - rnd(val_mid * inv)) / 2)
    lut = np.empty(513, np.int64)
    lut[:512] = np.clip(sample - bias, -32768, 32767)
    lut[512] = np.clip(rnd(fn(np.float64(in_max)) * inv), -32768, 32767)
    return lut


def lut_lookup_int16(value: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """generic_int16_table_lookup: segment 256 + (v >> 7), 7-bit linear interpolation, as int16."""
    v = value.astype(np.int64)
    idx = 256 + (v >> 7)
    base = lut[idx]
    slope = lut[idx + 1] - base
    out = base + ((slope * (v & 0x7F) + 64) >> 7)
    return ((out + 32768) & 0xFFFF) - 32768  # the C++ returns int16_t


@dataclass(frozen=True)
class QuantSoftmaxInt16:
    """reference_ops::SoftmaxInt16 with the exp and 1/(1+x) tables of activations.cc's SoftmaxPrepare."""

    input_multiplier: int
    input_left_shift: int
    exp_lut: np.ndarray
    recip_lut: np.ndarray
    rounding: str

    def run(self, x: np.ndarray) -> np.ndarray:
        xi = x.astype(np.int64)
        diff = xi - xi.max(axis=-1, keepdims=True)
        scaled = mul_by_qm(diff, self.input_multiplier, self.input_left_shift, self.rounding)
        exps = lut_lookup_int16(np.clip(scaled + 32767, -32768, 32767), self.exp_lut)  # Q0.15
        total = exps.sum(axis=-1, keepdims=True)  # Q16.15
        head = fp.count_leading_zeros_u32(total)
        shifted = ((total << (head - 1)) + (1 << 13)) >> 14
        recip = lut_lookup_int16(np.clip(shifted - ((1 << 15) + (1 << 16)), -32768, 32767), self.recip_lut)
        right = 31 - head
        out = (exps * recip + (np.int64(1) << (right - 1))) >> right
        return np.clip(out, 0, 32767).astype(np.int16)


def prepare_quantized_int16(ctx, beta: float) -> QuantSoftmaxInt16:
    x, y = ctx.input(0), ctx.output(0)
    in_s, in_zp = scale_zp(x)
    out_s, out_zp = scale_zp(y)
    if in_zp or out_zp or abs(out_s * 32768 - 1) > 1e-3:
        raise UnsupportedError("int16 SOFTMAX needs zero points 0 and output scale 1/32768")
    rng = 65535.0
    exp_lut = lut_populate_int16(np.exp, 10.0 / rng, 32767, 2.0 / rng, 0)
    recip_lut = lut_populate_int16(lambda v: 1.0 / (1.0 + v), 1.0 / rng, -32768, 2.0 / rng, 0)
    rounding = ctx.rounding_for("double")
    real = np.float64(np.float32(np.float32(in_s) * np.float32(beta))) / (10.0 / 65535.0)
    m, s = quantize_multiplier(real, rounding)
    return QuantSoftmaxInt16(int(m), int(s), exp_lut, recip_lut, rounding)
