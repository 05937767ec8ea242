"""gemmlowp fixed-point arithmetic (fixedpoint.h) on int64 numpy arrays holding int32 raw values.

``FixedPoint<int32_t, I>`` is represented by its raw int32 value; the integer-bit count I is
tracked by the caller, as in the C++. Products are SaturatingRoundingDoublingHighMul; additions of
raw values cannot overflow for the inputs these routines see (as in gemmlowp, which does not
saturate them either), except where gemmlowp itself saturates (SaturatingAdd, positive POT).
"""

from __future__ import annotations

import numpy as np

from .. import qmath

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def wrap32(x) -> np.ndarray:
    """Two's-complement wrap to int32 (what an overflowing int32 addition does on every target)."""
    return ((np.asarray(x, np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def mul(a, b) -> np.ndarray:
    """FixedPoint * FixedPoint: integer bits add; raw = SaturatingRoundingDoublingHighMul."""
    return np.asarray(qmath.saturating_rounding_doubling_high_mul(a, b))


def sat_pot(x, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT<exponent>: saturating left shift, or rounding right shift."""
    x = np.asarray(x, np.int64)
    if exponent == 0:
        return x
    if exponent < 0:
        return np.asarray(qmath.rounding_divide_by_pot(x, -exponent))
    lo, hi = INT32_MIN >> exponent, INT32_MAX >> exponent
    return np.where(x > hi, INT32_MAX, np.where(x < lo, INT32_MIN, x << exponent))


def rescale(x, src_int_bits: int, dst_int_bits: int) -> np.ndarray:
    """gemmlowp::Rescale<dst>(FixedPoint<src>)."""
    return sat_pot(x, src_int_bits - dst_int_bits)


def sat_add(a, b) -> np.ndarray:
    """SaturatingAdd of int32 raws."""
    return np.clip(np.asarray(a, np.int64) + b, INT32_MIN, INT32_MAX)


def exp_on_interval_between_negative_one_quarter_and_0_excl(a) -> np.ndarray:
    """F0 -> F0: exp(a) for a in [-1/4, 0), Taylor around -1/8."""
    constant_term = 1895147668
    constant_1_over_3 = 715827883
    x = np.asarray(a, np.int64) + (1 << 28)  # a + 1/8
    x2 = mul(x, x)
    x3 = mul(x2, x)
    x4 = mul(x2, x2)
    x4_over_4 = sat_pot(x4, -2)
    poly = sat_pot(mul(x4_over_4 + x3, constant_1_over_3) + x2, -1)
    return sat_add(constant_term, mul(constant_term, x + poly))


_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
           (4, 242))


def exp_on_negative_values(a, int_bits: int) -> np.ndarray:
    """gemmlowp::exp_on_negative_values: FixedPoint<int32, int_bits> (a <= 0) -> F0."""
    a = np.asarray(a, np.int64)
    frac_bits = 31 - int_bits
    one_quarter = 1 << (frac_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, int_bits, 0))
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in _BARREL:
        if int_bits > exponent:
            bit = np.int64(1) << (frac_bits + exponent)
            result = np.where((remainder & bit) != 0, mul(result, multiplier), result)
    if int_bits > 5:
        clamp = -(1 << (36 - int_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, INT32_MAX, result)


def rounding_half_sum(a, b) -> np.ndarray:
    s = np.asarray(a, np.int64) + b
    sign = np.where(s >= 0, 1, -1)
    t = s + sign
    return np.where(t >= 0, t // 2, -((-t) // 2))  # C truncating division


def one_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """F0 -> F0: 1 / (1 + a) by Newton-Raphson (three iterations)."""
    half_denominator = rounding_half_sum(a, INT32_MAX)  # F0
    x = 1515870810 + mul(half_denominator, -1010580540)  # F2
    for _ in range(3):
        half_denominator_times_x = mul(half_denominator, x)  # F2
        one_minus = (1 << 29) - half_denominator_times_x  # F2
        x = x + rescale(mul(x, one_minus), 4, 2)
    return rescale(x, 1, 0)  # ExactMulByPot<-1> relabels F2 as F1 (raw unchanged), then Rescale<0>


def count_leading_zeros_u32(x) -> np.ndarray:
    x = np.asarray(x, np.int64) & 0xFFFFFFFF
    n = np.full(x.shape, 32, np.int64)
    nz = x > 0
    n[nz] = 31 - np.floor(np.log2(x[nz].astype(np.float64))).astype(np.int64)
    # guard the float log2 at exact powers/near-powers of two
    hi_bit = np.where(nz, np.int64(1) << np.clip(31 - n, 0, 31), 0)
    too_big = nz & (hi_bit > x)
    n[too_big] += 1
    return n


def get_reciprocal(x, x_integer_digits: int):
    """tflite::GetReciprocal: (F0 raw of 1/x scaled, num_bits_over_unit)."""
    x = np.asarray(x, np.int64)
    headroom_plus_one = count_leading_zeros_u32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted = ((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    shifted = ((shifted + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)  # as int32
    return one_over_one_plus_x_for_x_in_0_1(shifted), num_bits_over_unit


def logistic(a, int_bits: int) -> np.ndarray:
    """gemmlowp::logistic: FixedPoint<int32, int_bits> -> F0."""
    a = np.asarray(a, np.int64)
    positive = a > 0
    abs_a = np.where(positive, a, -a)
    pos = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-abs_a, int_bits))
    neg = INT32_MAX - pos
    return np.where(a == 0, 1 << 30, np.where(positive, pos, neg))


def one_minus_x_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """F0 -> F0: (1 - a) / (1 + a) by Newton-Raphson (three iterations)."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = 1515870810 + mul(half_denominator, -1010580540)  # F2
    for _ in range(3):
        one_minus = (1 << 29) - mul(half_denominator, x)
        x = x + rescale(mul(x, one_minus), 4, 2)
    return rescale(x - (1 << 29), 2, 0)


def tanh(a, int_bits: int) -> np.ndarray:
    """gemmlowp::tanh: FixedPoint<int32, int_bits> -> F0."""
    a = np.asarray(a, np.int64)
    negative = a < 0
    n = np.where(negative, a, -a)  # -|a|
    t = exp_on_negative_values(n, int_bits + 1)  # ExactMulByPot<1>: same raw, one more integer bit
    pos = one_minus_x_over_one_plus_x_for_x_in_0_1(t)
    return np.where(a == 0, 0, np.where(negative, -pos, pos))
