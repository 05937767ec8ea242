"""qmath against a plain scalar Python transliteration of TFLite's C++ (int32 semantics emulated)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgequant import qmath

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
int32s = st.integers(I32_MIN, I32_MAX)


# ---- scalar reference, line by line after the C++ -------------------------------------------------
def c_div(a: int, b: int) -> int:
    """C integer division: truncates toward zero (Python's // floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def to_i32(v: int) -> int:
    """static_cast<int32_t> of a wider value: two's-complement wrap."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= (1 << 31) else v


def ref_std_round(f: float) -> float:
    """std::round: halves away from zero, computed exactly on the (float) value."""
    a = abs(f)
    r = math.floor(a)
    if a - r >= 0.5:
        r += 1
    return math.copysign(r, f)


def ref_srdhm(a: int, b: int) -> int:
    overflow = a == b and a == I32_MIN
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    high = to_i32(c_div(ab + nudge, 1 << 31))
    return I32_MAX if overflow else high


def ref_rdbp(x: int, exponent: int) -> int:
    mask = to_i32((1 << exponent) - 1)
    remainder = to_i32(x & mask)
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def ref_mbqm_double(x: int, m: int, shift: int) -> int:
    left = shift if shift > 0 else 0  # noqa: FURB136 - kept as the C++ spells it
    right = 0 if shift > 0 else -shift
    return ref_rdbp(ref_srdhm(to_i32(x * (1 << left)), m), right)


def ref_mbqm_single(x: int, m: int, shift: int) -> int:
    total = 31 - shift
    rnd = 1 << (total - 1)
    return (x * m + rnd) >> total


def ref_quantize_multiplier(d: float, single: bool = False) -> tuple[int, int]:
    if d == 0.0:
        return 0, 0
    q, shift = math.frexp(d)
    q_fixed = int(ref_std_round(q * (1 << 31)))
    assert q_fixed <= (1 << 31)
    if q_fixed == (1 << 31):
        q_fixed = c_div(q_fixed, 2)
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if single and shift > 30:
        shift, q_fixed = 30, (1 << 31) - 1
    return q_fixed, shift


def f32(v) -> float:
    return float(np.float32(v))


def ref_affine_quantize(x: float, scale: float, zp: int, qmin: int, qmax: int) -> int:
    val = f32(f32(x) / f32(scale))  # float / float in C++ is a float division
    unclamped = int(ref_std_round(val)) + zp
    return min(max(unclamped, qmin), qmax)


# ---- round_half_away ----------------------------------------------------------------------------
def test_round_half_away_known_values():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, -0.49999997, 8388609.0, 0.0, -0.0], np.float32)
    want = np.array([1, 2, 3, -1, -2, -3, 0, -0, 8388609, 0, -0], np.float32)
    got = qmath.round_half_away(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    assert np.isnan(qmath.round_half_away(np.float32("nan")))
    assert qmath.round_half_away(np.float32("inf")) == np.inf


def _exact_round(v: np.ndarray) -> np.ndarray:
    a = np.abs(v)
    f = np.floor(a)
    return np.copysign(f + (a - f >= 0.5), v)


def test_round_half_away_exhaustive_below_four():
    """Every float32 in [0, 4) and its negation; the full 2**32 sweep (33 s) also passes, see report."""
    bits = np.arange(0, np.float32(4.0).view(np.uint32), 97, dtype=np.uint32)
    halves = np.float32([0.5, 1.5, 2.5, 3.5]).view(np.uint32).astype(np.int64)
    near = (halves[:, None] + np.arange(-4, 5)).ravel().astype(np.uint32)  # the neighbours of each half
    bits = np.concatenate([bits, near])
    v = bits.view(np.float32)
    for s in (v, -v):
        np.testing.assert_array_equal(qmath.round_half_away(s), _exact_round(s))


@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_round_half_away_float32_property(x):
    assert float(qmath.round_half_away(np.float32(x))) == ref_std_round(x)


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_round_half_away_float64_property(x):
    assert float(qmath.round_half_away(np.float64(x))) == ref_std_round(x)


# ---- saturating_rounding_doubling_high_mul / rounding_divide_by_pot -----------------------------
def test_srdhm_known_values():
    assert qmath.saturating_rounding_doubling_high_mul(I32_MIN, I32_MIN) == I32_MAX
    assert qmath.saturating_rounding_doubling_high_mul(I32_MIN, I32_MAX) == -I32_MAX
    assert qmath.saturating_rounding_doubling_high_mul(1 << 30, 1 << 30) == 1 << 29
    # -1 * 2**30 / 2**31 = -0.5: C truncation of (-2**30 + 1 - 2**30) / 2**31 gives 0, floor would give -1
    assert qmath.saturating_rounding_doubling_high_mul(-1, 1 << 30) == 0
    assert qmath.saturating_rounding_doubling_high_mul(-3, 1 << 30) == -1


@given(int32s, int32s)
def test_srdhm_property(a, b):
    assert qmath.saturating_rounding_doubling_high_mul(a, b) == ref_srdhm(a, b)


@given(int32s, st.integers(0, 31))
def test_rdbp_property(x, e):
    assert qmath.rounding_divide_by_pot(x, e) == ref_rdbp(x, e)


def test_rdbp_ties_away_from_zero():
    np.testing.assert_array_equal(qmath.rounding_divide_by_pot([1, -1, 3, -3, 2, -2], 1), [1, -1, 2, -2, 1, -1])
    assert qmath.rounding_divide_by_pot(I32_MIN, 31) == -1
    assert qmath.rounding_divide_by_pot(I32_MAX, 31) == 1


# ---- quantize_multiplier ------------------------------------------------------------------------
def test_quantize_multiplier_known_values():
    assert qmath.quantize_multiplier(0.0) == (0, 0)
    assert qmath.quantize_multiplier(0.5) == (1 << 30, 0)
    assert qmath.quantize_multiplier(1.0) == (1 << 30, 1)
    # frac rounds up to exactly 2**31: halved, shift bumped
    assert qmath.quantize_multiplier(1.0 - 2.0**-40) == (1 << 30, 1)
    assert qmath.quantize_multiplier(2.0**-40) == (0, 0)  # shift < -31 flushes to zero
    assert qmath.quantize_multiplier(2.0**40) == (1 << 30, 41)
    assert qmath.quantize_multiplier(2.0**40, single_rounding=True) == (I32_MAX, 30)
    with pytest.raises(ValueError):
        qmath.quantize_multiplier(float("nan"))


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), st.booleans())
def test_quantize_multiplier_property(d, single):
    assert qmath.quantize_multiplier(d, single_rounding=single) == ref_quantize_multiplier(d, single)


def test_quantize_multiplier_vectorised():
    d = np.array([0.0, 0.5, 0.3, 1.7, 2.0**-33, 1e-5])
    m, s = qmath.quantize_multiplier(d)
    assert m.shape == s.shape == (6,)
    assert list(zip(m.tolist(), s.tolist())) == [ref_quantize_multiplier(v) for v in d]


def test_quantize_multiplier_range_checked_variants():
    m, s = qmath.quantize_multiplier_smaller_than_one_exp(0.3)
    assert s <= 0 and (m, s) == ref_quantize_multiplier(0.3)
    m, s = qmath.quantize_multiplier_greater_than_one(3.5)
    assert s >= 0 and (m, s) == ref_quantize_multiplier(3.5)
    with pytest.raises(ValueError):
        qmath.quantize_multiplier_smaller_than_one_exp(1.5)
    with pytest.raises(ValueError):
        qmath.quantize_multiplier_greater_than_one(0.5)


def test_downscale_int32_to_int16_multiplier():
    assert qmath.downscale_int32_to_int16_multiplier(1 << 30) == 1 << 14
    assert qmath.downscale_int32_to_int16_multiplier(I32_MAX) == 32767
    assert qmath.downscale_int32_to_int16_multiplier((1 << 16) + (1 << 15)) == 2  # rounds half up


# ---- multiply_by_quantized_multiplier -----------------------------------------------------------
@settings(max_examples=300)
@given(int32s, st.integers(0, I32_MAX), st.integers(-31, 8))
def test_mbqm_double_property(x, m, shift):
    assert qmath.multiply_by_quantized_multiplier(x, m, shift) == ref_mbqm_double(x, m, shift)


@settings(max_examples=300)
@given(st.integers(-(1 << 20), 1 << 20), st.integers(1 << 30, I32_MAX), st.integers(-31, 0))
def test_mbqm_single_property(x, m, shift):
    assert qmath.multiply_by_quantized_multiplier(x, m, shift, rounding="single") == ref_mbqm_single(x, m, shift)


def test_mbqm_double_and_single_differ_on_a_known_case():
    m, s = qmath.quantize_multiplier(0.75 / 4)
    xs = np.arange(-5000, 5000)
    d = qmath.multiply_by_quantized_multiplier(xs, m, s)
    sr = qmath.multiply_by_quantized_multiplier(xs, m, s, rounding="single")
    np.testing.assert_array_equal(d, [ref_mbqm_double(int(v), m, s) for v in xs])
    np.testing.assert_array_equal(sr, [ref_mbqm_single(int(v), m, s) for v in xs])
    # Single rounding is always within half a unit; double rounding can round twice the same way.
    assert np.all(np.abs(sr - xs * 0.1875) <= 0.5)
    assert np.all(np.abs(d - xs * 0.1875) < 1) and np.any(np.abs(d - xs * 0.1875) > 0.5)
    assert np.any(d != sr)


def test_mbqm_per_channel_broadcasts_last_axis():
    rng = np.random.default_rng(1)
    x = rng.integers(-(1 << 20), 1 << 20, size=(7, 5))
    mult = np.array([0.0003, 0.1, 0.7, 1.9, 12.0])
    m, s = qmath.quantize_multiplier(mult)
    got = qmath.multiply_by_quantized_multiplier(x, m, s)
    assert got.shape == (7, 5)
    for i in range(7):
        for c in range(5):
            assert got[i, c] == ref_mbqm_double(int(x[i, c]), int(m[c]), int(s[c]))
    with pytest.raises(ValueError):
        qmath.multiply_by_quantized_multiplier(x, m, s, rounding="banker")


def test_mbqm_int64_variant():
    m, s = qmath.quantize_multiplier(0.001)
    x = np.array([0, 1 << 40, -(1 << 40), 123456789012])
    reduced = (m + (1 << 15)) >> 16
    total = 15 - s
    want = [(int(v) * reduced + (1 << (total - 1))) >> total for v in x]
    np.testing.assert_array_equal(qmath.multiply_by_quantized_multiplier_int64(x, m, s), want)


def test_smaller_and_greater_than_one_helpers():
    m, s = qmath.quantize_multiplier(0.3)
    for x in (-1000, -1, 0, 7, 99999):
        assert qmath.multiply_by_quantized_multiplier_smaller_than_one_exp(x, m, s) == ref_mbqm_double(x, m, s)
    m, s = qmath.quantize_multiplier(5.3)
    for x in (-1000, -1, 0, 7, 99999):
        assert qmath.multiply_by_quantized_multiplier_greater_than_one(x, m, s) == ref_mbqm_double(x, m, s)


def test_mbqm_is_fast_on_big_arrays():
    import time

    x = np.random.default_rng(0).integers(-(1 << 24), 1 << 24, size=1 << 20)
    m, s = qmath.quantize_multiplier(np.linspace(0.001, 0.9, 64))
    t = time.perf_counter()
    out = qmath.multiply_by_quantized_multiplier(x.reshape(-1, 64), m, s)
    assert time.perf_counter() - t < 2.0  # vectorised: ~0.1 s; a Python loop would take >5 s
    assert out.shape == (1 << 14, 64)


# ---- quantize_affine / activation range ---------------------------------------------------------
@given(st.floats(-1e6, 1e6, width=32), st.floats(0.0009765625, 10.0, width=32), st.integers(-128, 127))
def test_quantize_affine_property(x, scale, zp):
    assert qmath.quantize_affine(x, scale, zp, -128, 127) == ref_affine_quantize(x, scale, zp, -128, 127)


def test_quantize_affine_divides_in_float32_not_by_reciprocal():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(200_000).astype(np.float32) * 3
    s = np.float32(0.0235)
    got = qmath.quantize_affine(x, s, 0, -(1 << 15), (1 << 15) - 1)
    by_recip = qmath.round_half_away(x * (np.float32(1) / s)).astype(np.int64)
    want = np.array([ref_affine_quantize(float(v), float(s), 0, -(1 << 15), (1 << 15) - 1) for v in x[:2000]])
    np.testing.assert_array_equal(got[:2000], want)
    assert np.any(got != by_recip)  # why the reciprocal shortcut is not bit-exact


def test_quantize_affine_per_channel_and_edge_values():
    x = np.array([[1.0, 1.0], [-1.0, 100.0]], np.float32)
    got = qmath.quantize_affine(x, [0.5, 0.25], [0, 10], -128, 127)
    np.testing.assert_array_equal(got, [[2, 14], [-2, 127]])
    got = qmath.quantize_affine(x, [0.5, 0.25], [0, 10], -128, 127, axis=0)
    np.testing.assert_array_equal(got, [[2, 2], [6, 127]])
    edge = qmath.quantize_affine([np.nan, np.inf, -np.inf, 1e30], 1.0, 0, -128, 127)
    np.testing.assert_array_equal(edge, [-128, 127, -128, 127])
    np.testing.assert_array_equal(qmath.dequantize_affine([-128, 0, 127], 0.5, -1), [-63.5, 0.5, 64.0])


def test_calculate_activation_range_quantized():
    f = qmath.calculate_activation_range_quantized
    assert f("NONE", 0.05, -128, -128, 127) == (-128, 127)
    assert f(qmath.ACT_RELU, 0.05, -28, -128, 127) == (-28, 127)
    assert f("RELU6", 0.05, -128, -128, 127) == (-128, -8)
    assert f("RELU6", 0.01, 0, -128, 127) == (0, 127)  # q(6) = 600 clamps to qmax
    assert f("RELU_N1_TO_1", 1 / 127, 0, -128, 127) == (-127, 127)
    assert f(qmath.ACT_TANH, 0.05, 3, -128, 127) == (-128, 127)  # like the C++ else branch
    # q(6) with scale 0.04: 6 / 0.04 = 150.00000596f... rounds to 150 in float32
    assert f("RELU6", np.float32(0.04), -100, -1000, 1000) == (-100, -100 + ref_affine_quantize(6.0, 0.04, 0, -999,
                                                                                                 999))
    with pytest.raises(ValueError):
        f("GELU", 0.1, 0, -128, 127)
