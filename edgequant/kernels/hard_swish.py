"""HARD_SWISH: x * relu6(x + 3) / 6 (float32; int8 by TFLite's 16-bit fixed-point path)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import scale_zp

F32 = np.float32
I16_MIN, I16_MAX = -(1 << 15), (1 << 15) - 1


@dataclass(frozen=True)
class HardSwishParams:
    quantized: bool = False
    input_zero_point: int = 0
    output_zero_point: int = 0
    output_multiplier_fixedpoint_int16: int = 0
    output_multiplier_exponent: int = 0
    reluish_multiplier_fixedpoint_int16: int = 0
    reluish_multiplier_exponent: int = 0
    batchable: bool = True


def _wrap16(x: np.ndarray) -> np.ndarray:
    """Store into int16_t: two's-complement wrap (the C++ implicit conversion)."""
    return ((x + (1 << 15)) & 0xFFFF) - (1 << 15)


def _srdhm16(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp::SaturatingRoundingDoublingHighMul on int16: round(a * b / 2**15), nudge away from zero,
    C truncating division; -32768 * -32768 saturates to 32767."""
    ab = a * b
    s = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    high = np.where(s >= 0, s >> 15, -((-s) >> 15))
    return np.where((a == I16_MIN) & (b == I16_MIN), I16_MAX, high)


def _sdhm16(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """reference_ops::SaturatingDoublingHighMul (int16): ``a * b / 2**15`` truncated toward zero (no rounding)."""
    ab = a * b
    high = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((a == I16_MIN) & (b == I16_MIN), I16_MAX, _wrap16(high))


def _saturating_left_shift16(x: np.ndarray, amount: int) -> np.ndarray:
    """reference_ops::SaturatingLeftShift: ``x * 2**amount`` clamped to int16."""
    return np.clip(x << amount, I16_MIN, I16_MAX)


@kernel("HARD_SWISH")
class HardSwish(Kernel):
    """reference_ops::HardSwish (lite/kernels/internal/reference/hard_swish.h). float32: ``x * min(6, max(0,
    x + 3)) / 6``. int8: HardSwishPrepare derives, in float32, ``hires_input_scale = s_in / 128``, the output
    multiplier ``hires / s_out`` and the "reluish" multiplier ``hires / (3 / 32768)``, each QuantizeMultiplier'd
    then DownScaleInt32ToInt16Multiplier'd; eval is the 16-bit fixed-point path (rounding high-muls, the
    saturating two-step left shift, the non-rounding SaturatingDoublingHighMul, RoundingDivideByPOT).
    LiteRT has no int16 HARD_SWISH (it refuses INT16 at invoke), so neither do we."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type != y.type or x.type not in (dtypes.FLOAT32, dtypes.INT8):
            raise UnsupportedError(f"HARD_SWISH of {dtypes.name(x.type)} into {dtypes.name(y.type)}; supported: "
                                   f"FLOAT32, INT8 (LiteRT has no int16 HARD_SWISH)")
        if x.type == dtypes.FLOAT32:
            return HardSwishParams()
        si, zi = scale_zp(x)
        so, zo = scale_zp(y)
        hires_input_scale = F32(F32(1.0 / 128.0) * F32(si))
        reluish_scale = F32(F32(3.0) / F32(32768.0))
        out_m32, out_exp = qmath.quantize_multiplier(np.float64(F32(hires_input_scale / F32(so))))
        if out_exp > 0:
            raise UnsupportedError(f"HARD_SWISH output scale {so:g} is too small for input scale {si:g} "
                                   f"(output multiplier exponent {out_exp} > 0; TFLite refuses it too)")
        rel_m32, rel_exp = qmath.quantize_multiplier(np.float64(F32(hires_input_scale / reluish_scale)))
        return HardSwishParams(True, zi, zo, int(qmath.downscale_int32_to_int16_multiplier(out_m32)), out_exp,
                               int(qmath.downscale_int32_to_int16_multiplier(rel_m32)), rel_exp)

    def eval(self, p: HardSwishParams, inputs):
        x = inputs[0]
        if not p.quantized:
            f = np.float32
            return [x * np.minimum(f(6), np.maximum(f(0), x + f(3))) / f(6)]
        input_value = x.astype(np.int64) - p.input_zero_point  # int16 in C++; |v| <= 255
        input_value_on_hires_input_scale = input_value << 7  # fits int16 for int8 inputs
        input_value_on_preshift_output_scale = _srdhm16(input_value_on_hires_input_scale,
                                                        p.output_multiplier_fixedpoint_int16)
        reluish_value = input_value_on_hires_input_scale
        e = p.reluish_multiplier_exponent
        if e > 0:
            reluish_value = _saturating_left_shift16(reluish_value, e - 1)
        reluish_value = _srdhm16(reluish_value, p.reluish_multiplier_fixedpoint_int16)
        if e > 0:
            reluish_value = _saturating_left_shift16(reluish_value, 1)
        if e < 0:
            reluish_value = np.asarray(qmath.rounding_divide_by_pot(reluish_value, -e))
        reluish_value = (reluish_value + (1 << 15)) >> 1  # [-1, 1] -> [0, 1] in Q15
        preshift_output_value = _sdhm16(reluish_value, input_value_on_preshift_output_scale)
        output_value = np.asarray(qmath.rounding_divide_by_pot(preshift_output_value, -p.output_multiplier_exponent))
        output_value = _wrap16(output_value + p.output_zero_point)  # int16_t += in C++
        return [np.clip(output_value, -128, 127).astype(np.int8)]
