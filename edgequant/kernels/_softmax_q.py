"""Quantized SOFTMAX (int8 -> int8/int16) as reference_ops::Softmax in softmax.h (gemmlowp fixed point)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from . import _fixedpoint as fp
from ._common import mul_by_qm_greater_than_one, quantize_multiplier, scale_zp

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
