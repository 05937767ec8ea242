"""TFLite's integer arithmetic, bit-exact, vectorised over numpy arrays.

Every helper here mirrors one C++ function of TFLite (LiteRT / tflite-micro) and names it in its
docstring, so a reviewer can hold the two side by side. Conventions:

* Integer inputs are widened to ``int64`` before any arithmetic; results are ``int64`` arrays whose
  values lie in the width the C++ returns (int32 unless stated). Scalars in give numpy scalars out.
* Where C++ computes in ``float`` we compute in ``float32``; ``double`` stays ``float64``.
* Rounding is ``std::round`` (half away from zero) via :func:`round_half_away`, never numpy's
  round-half-to-even ``np.rint``/``np.round``.
* Per-channel: multipliers, shifts, scales and zero points given as arrays broadcast against the
  data with numpy rules, i.e. along the last axis (TFLite's NHWC channel axis).
* Signed int32 overflow is undefined behaviour in C++; where the reference can overflow
  (``x * (1 << left_shift)``) we emulate two's-complement wrap-around, which is what the compiled
  kernels do on every target we know of.
"""

from __future__ import annotations

import threading

import numpy as np

ArrayLike = int | float | np.ndarray | list

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1

# Schema ActivationFunctionType (and TfLiteFusedActivation) values.
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT = range(6)
_ACTIVATIONS = {"NONE": ACT_NONE, "RELU": ACT_RELU, "RELU_N1_TO_1": ACT_RELU_N1_TO_1, "RELU1": ACT_RELU_N1_TO_1,
                "RELU6": ACT_RELU6, "TANH": ACT_TANH, "SIGN_BIT": ACT_SIGN_BIT}


def _out(a: np.ndarray):
    """0-d arrays come back as numpy scalars, so scalar in gives scalar out."""
    return a[()] if a.ndim == 0 else a


def _i64(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def wrap_int32(x: ArrayLike) -> np.ndarray:
    """Two's-complement wrap of int64 values to the int32 range (what a C cast to int32_t does)."""
    x = _i64(x)
    return _out(((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31))


def round_half_away(x: ArrayLike) -> np.ndarray:
    """Round to nearest, halves away from zero: ``std::round`` / ``TfLiteRound``. Keeps the float dtype.

    ``np.round``/``np.rint`` round halves to even and ``np.trunc(x + copysign(0.5, x))`` is wrong for
    0.49999997f (the sum rounds up to 1.0). Adding the largest float *below* one half before
    truncating is exact for every finite float32 and float64 value: a sum that lands on a tie between
    two floats is resolved by the hardware's round-to-even, which always picks the side that
    truncates correctly. ``tests/test_qmath.py`` checks it against an exact reference.

    >>> round_half_away(np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997], np.float32))
    array([ 1.,  2.,  3., -1., -3.,  0.], dtype=float32)
    """
    a = np.asarray(x)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    almost_half = np.nextafter(a.dtype.type(0.5), a.dtype.type(0))
    return _out(np.trunc(a + np.copysign(almost_half, a)))


def quantize_affine(x: ArrayLike, scale: ArrayLike, zero_point: ArrayLike, qmin: int, qmax: int,
                    axis: int | None = None, dtype: type = np.int64) -> np.ndarray:
    """Affine quantization as TFLite's reference Quantize: ``reference_ops::AffineQuantize``.

    ``q = clamp(zero_point + (int32)std::round(x / scale), qmin, qmax)`` with ``x / scale`` divided in
    float32. Per-channel: ``scale``/``zero_point`` arrays broadcast along the last axis, or along
    ``axis`` if given (``reference_ops::PerChannelQuantize``, which also divides in float32).
    Returns int64. Where C++ is undefined (NaN, |x/scale| >= 2**31) we saturate instead: +big -> qmax,
    -big -> qmin, NaN -> qmin (x86's cvttss2si gives INT32_MIN for NaN, which the clamp turns into qmin).
    ``dtype``: the integer type returned, wide enough for [qmin, qmax] (int8 weights skip an int64 copy).

    >>> quantize_affine([0.0, 0.05, 0.15, -1.0, 100.0], 0.1, -3, -128, 127)
    array([ -3,  -2,  -1, -13, 127])
    """
    xf = np.asarray(x, dtype=np.float32)
    s = np.asarray(scale, dtype=np.float32)
    zp = _i64(zero_point)
    if axis is not None and s.ndim == 1:
        ax = axis % xf.ndim
        shape = [1] * xf.ndim
        shape[ax] = -1
        s = s.reshape(shape)
        zp = zp.reshape(shape) if zp.ndim == 1 else zp
    lo = (qmin - zp).astype(np.float32)
    hi = (qmax - zp).astype(np.float32)
    if not zp.any() and np.dtype(dtype).kind == "i":  # the clamped values fit dtype: one truncating cast
        zp = None
    shape = np.broadcast_shapes(xf.shape, s.shape, lo.shape)
    if xf.ndim == 0 or shape != xf.shape or xf.size < _SMALL:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            v = _round_half_away_clamped(np.asarray(np.divide(xf, s, dtype=np.float32)), lo, hi)
        return _out(_to_ints(v, zp, dtype))
    # Bigger arrays go in blocks of leading-axis slices through two kept work arrays: fresh arrays of a big
    # weight's size cost page faults on every call, often more than the arithmetic.
    out = np.empty(shape, dtype)
    flat = out
    s, lo, hi = (a.reshape((1,) * (xf.ndim - a.ndim) + a.shape) for a in (s, lo, hi))  # numpy's broadcasting
    if zp is not None:
        zp = zp.reshape((1,) * (xf.ndim - zp.ndim) + zp.shape)
    k = next((k for k in range(xf.ndim) if s.shape[k] > 1 or lo.shape[k] > 1), xf.ndim)  # where they vary
    if k > 1 and xf.flags.c_contiguous:  # the axes before it merge into one: smaller blocks
        xf, flat = xf.reshape((-1,) + xf.shape[k:]), out.reshape((-1,) + xf.shape[k:])
        s, lo, hi, zp = (a if a is None else a.reshape((1,) + a.shape[k:]) for a in (s, lo, hi, zp))
    row = xf.size // xf.shape[0]
    per = max(1, _BLOCK // row)
    work = _work() if row <= _BLOCK else None
    for i in range(0, xf.shape[0], per):
        j = slice(i, i + per)
        _quantize_block(xf[j], *(a if a is None or a.shape[0] == 1 else a[j] for a in (s, lo, hi, zp)), work,
                        flat[j])
    return out


_BLOCK = 1 << 15  # float32 values per step of quantize_affine on big arrays
_SMALL = 1 << 13  # below this many values the per-call cost of the blocked way's extra steps outweighs them
_WORK = threading.local()


def _work() -> tuple[np.ndarray, np.ndarray]:
    bufs = getattr(_WORK, "bufs", None)
    if bufs is None:
        bufs = _WORK.bufs = (np.empty(_BLOCK, np.float32), np.empty(_BLOCK, np.float32))
    return bufs


def _round_half_away_clamped(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``v`` (float32, overwritten) clamped to [lo, hi] and pushed to where the integer cast's truncation rounds
    half away: fmax/fmin return the number when the other operand is NaN (NaN -> lo, +-inf -> the bounds), then
    round_half_away's sum."""
    inplace = v.ndim and np.broadcast_shapes(v.shape, lo.shape) == v.shape
    v = np.fmin(np.fmax(v, lo, out=v if inplace else None), hi, out=v if inplace else None)
    return np.add(v, np.copysign(np.nextafter(np.float32(0.5), np.float32(0)), v), out=v if v.ndim else None)


def _to_ints(v: np.ndarray, zp: np.ndarray | None, dtype) -> np.ndarray:
    """Clamped, rounded-or-pushed float32 values to ``dtype``: the cast truncates; ``zp`` None: no zero point."""
    return v.astype(dtype) if zp is None else (v.astype(np.int64) + zp).astype(dtype, copy=False)


def _quantize_block(xf: np.ndarray, s: np.ndarray, lo: np.ndarray, hi: np.ndarray, zp: np.ndarray | None,
                    work: tuple[np.ndarray, np.ndarray] | None, out: np.ndarray) -> None:
    """:func:`quantize_affine` of one block into ``out``, in the arrays ``work`` if given (of at least ``xf``'s
    size). fmax, fmin and copysign run at a third of the speed of clip, rint and abs: here the clamp is clip
    (NaN stays NaN), the rounding rint (halves to even), mended where it differs."""
    shape = out.shape
    v = work[0][:xf.size].reshape(shape) if work else None
    r = work[1][:xf.size].reshape(shape) if work else None
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        v = np.clip(np.divide(xf, s, out=v, dtype=np.float32), lo, hi, out=v)
        r = np.rint(v, out=r)
        # v - rint(v) is exact in float32 and at most 0.5 from zero: 0.5 only where v is a tie, NaN only where v is
        # NaN. A block with either (rare) is rounded the slower way.
        gap = np.abs(np.subtract(v, r, out=v), out=v)
        if not np.max(gap) < np.float32(0.5):
            r = _round_half_away_clamped(np.divide(xf, s, out=v, dtype=np.float32), lo, hi)
    out[...] = r if zp is None else r.astype(np.int64) + zp  # a truncating cast, as astype


def quantize_affine_with_errors(x: np.ndarray, scale: np.ndarray, qmin: int, qmax: int, q: np.ndarray,
                                r: np.ndarray) -> None:
    """:func:`quantize_affine` with zero point 0 into ``q`` (an integer array of ``x``'s shape), and into ``r``
    (float32, ``x``'s shape) each value's rounding error in steps, ``q - x / scale``: one float32 division gives
    both. ``x`` is float32; ``scale`` float32, broadcast against ``x`` with numpy's rules (0-d, or of ``x``'s
    number of axes).

    Clamped and rounded with clip and rint (halves to even), block by block; a block whose errors show a tie or
    a NaN (some ``|r| >= 0.5``, and then one exactly 0.5, or a NaN) is redone by :func:`quantize_affine`, so the
    integers are always that function's. An error of a clamped value is not bounded by 0.5 (it counts the
    clamping too), and ``x = +-inf`` gives an infinite error.

    >>> q, r = np.empty(3, np.int8), np.empty(3, np.float32)
    >>> quantize_affine_with_errors(np.array([0.375, -0.5, 9.0], np.float32), np.float32(0.5), -4, 4, q, r)
    >>> q, r
    (array([ 1, -1,  4], dtype=int8), array([  0.25,   0.  , -14.  ], dtype=float32))
    """
    s = np.asarray(scale, np.float32)
    lo, hi = np.float32(qmin), np.float32(qmax)
    if x.ndim == 0 or x.size == 0:
        q[...] = quantize_affine(x, s, 0, qmin, qmax, dtype=q.dtype)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            np.subtract(q, np.divide(x, s, dtype=np.float32), out=r, dtype=np.float32)
        return
    row = x.size // x.shape[0]
    per = max(1, _BLOCK // row)
    work = _work()[0] if row <= _BLOCK else None
    for i in range(0, x.shape[0], per):
        j = slice(i, i + per)
        sj = s if s.ndim == 0 or s.shape[0] == 1 else s[j]
        v = r[j]
        t = work[:v.size].reshape(v.shape) if work is not None else np.empty(v.shape, np.float32)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            np.divide(x[j], sj, out=v, dtype=np.float32)
            np.rint(np.clip(v, lo, hi, out=t), out=t)
            np.subtract(t, v, out=v)  # exact: a float32 minus its rounding (or its clamp bound minus it)
            q[j] = t  # a truncating cast of whole numbers
            if v.max() < 0.5 and v.min() > -0.5:
                continue
            # a clamped value, a tie or a NaN: only the last two need quantize_affine's slower rounding
            if np.isnan(v).any() or (np.abs(v, out=t) == 0.5).any():
                q[j] = quantize_affine(x[j], sj, 0, qmin, qmax, dtype=q.dtype)
                np.subtract(q[j], np.divide(x[j], sj, dtype=np.float32), out=v, dtype=np.float32)


def dequantize_affine(q: ArrayLike, scale: ArrayLike, zero_point: ArrayLike) -> np.ndarray:
    """``reference_ops::Dequantize``: ``float(scale * (q - zero_point))`` in float32."""
    d = _i64(q) - _i64(zero_point)
    return _out(np.multiply(np.asarray(scale, np.float32), d.astype(np.float32), dtype=np.float32))


def quantize_multiplier(double_multiplier: ArrayLike, single_rounding: bool = False):
    """Real multiplier -> (int32 fixed-point multiplier, shift): ``tflite::QuantizeMultiplier``.

    ``multiplier * 2**(shift - 31) ~= double_multiplier`` with the multiplier in [2**30, 2**31)
    (or 0). Same frexp-based steps as the C++: ``q_fixed = round(frac * 2**31)``; if rounding hit
    ``2**31`` halve it and bump the shift; a shift below -31 flushes to (0, 0). With
    ``single_rounding`` (TFLITE_SINGLE_ROUNDING builds) a shift above 30 saturates to
    ``(2**31 - 1, 30)``. Vectorised: arrays give (int64 array, int64 array).

    >>> quantize_multiplier(0.5)
    (1073741824, 0)
    >>> quantize_multiplier(1.0)
    (1073741824, 1)
    """
    d = np.asarray(double_multiplier, dtype=np.float64)
    if not np.all(np.isfinite(d)):
        raise ValueError("quantize_multiplier: multiplier must be finite")
    frac, shift = np.frexp(d)
    q_fixed = round_half_away(frac * float(1 << 31)).astype(np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    full = q_fixed == (1 << 31)
    q_fixed = np.where(full, q_fixed // 2, q_fixed)
    shift = np.where(full, shift + 1, shift)
    tiny = shift < -31
    q_fixed = np.where(tiny, 0, q_fixed)
    shift = np.where(tiny, 0, shift)
    if single_rounding:
        big = shift > 30
        q_fixed = np.where(big, INT32_MAX, q_fixed)
        shift = np.where(big, 30, shift)
    if q_fixed.ndim == 0:
        return int(q_fixed), int(shift)
    return q_fixed.astype(np.int64), shift.astype(np.int64)


def quantize_multiplier_smaller_than_one_exp(double_multiplier: ArrayLike):
    """``tflite::QuantizeMultiplierSmallerThanOneExp``: 0 < m < 1, returns (multiplier, left_shift <= 0)."""
    d = np.asarray(double_multiplier, dtype=np.float64)
    if not np.all((d > 0) & (d < 1)):
        raise ValueError("quantize_multiplier_smaller_than_one_exp: multiplier must be in (0, 1)")
    return quantize_multiplier(d)


def quantize_multiplier_greater_than_one(double_multiplier: ArrayLike):
    """``tflite::QuantizeMultiplierGreaterThanOne``: m > 1, returns (multiplier, left_shift >= 0)."""
    d = np.asarray(double_multiplier, dtype=np.float64)
    if not np.all(d > 1):
        raise ValueError("quantize_multiplier_greater_than_one: multiplier must be > 1")
    return quantize_multiplier(d)


def downscale_int32_to_int16_multiplier(multiplier: ArrayLike) -> np.ndarray:
    """``tflite::DownScaleInt32ToInt16Multiplier``: round a Q31 multiplier to Q15, saturating at 32767."""
    m = _i64(multiplier)
    if np.any(m < 0):
        raise ValueError("downscale_int32_to_int16_multiplier: multiplier must be >= 0")
    offset = 1 << 15
    return _out(np.where(m >= INT32_MAX - offset, 32767, (m + offset) >> 16))


def saturating_rounding_doubling_high_mul(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """``gemmlowp::SaturatingRoundingDoublingHighMul`` for int32: round(a * b / 2**31), saturating.

    The only overflow, ``a == b == INT32_MIN``, gives INT32_MAX. The nudge is ``1 << 30`` for a
    non-negative product and ``1 - (1 << 30)`` otherwise, then C's truncating division by 2**31
    (not Python's floor division).

    >>> saturating_rounding_doubling_high_mul([1 << 30, -(1 << 31)], [1 << 30, -(1 << 31)])
    array([ 536870912, 2147483647])
    """
    a = _i64(a)
    b = _i64(b)
    ab = a * b  # |ab| <= 2**62: fits int64
    s = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    # Truncating division by 2**31: shift the magnitude, restore the sign.
    high = np.where(s >= 0, s >> 31, -((-s) >> 31))
    return _out(np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high))


def rounding_divide_by_pot(x: ArrayLike, exponent: ArrayLike) -> np.ndarray:
    """``gemmlowp::RoundingDivideByPOT``: x / 2**exponent rounded to nearest, ties away from zero.

    ``mask = 2**exponent - 1``, ``remainder = x & mask``, ``threshold = (mask >> 1) + (x < 0)``,
    result ``(x >> exponent) + (remainder > threshold)`` with an arithmetic shift. ``exponent`` in
    [0, 31] for int32 ``x`` (up to 62 works for int64 values).

    >>> rounding_divide_by_pot([5, -5, 6, -6, 7], 1)
    array([ 3, -3,  3, -3,  4])
    """
    x = _i64(x)
    e = _i64(exponent)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return _out((x >> e) + (remainder > threshold))


def multiply_by_quantized_multiplier(x: ArrayLike, quantized_multiplier: ArrayLike, shift: ArrayLike,
                                     rounding: str = "double") -> np.ndarray:
    """``tflite::MultiplyByQuantizedMultiplier(int32_t x, int32_t multiplier, int shift)``.

    ``rounding="double"`` is the gemmlowp form that LiteRT's reference kernels and tflite-micro use
    by default: ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * (1 << left), m), right)``
    with ``left = max(shift, 0)``, ``right = max(-shift, 0)`` (the int32 product ``x << left``
    wraps like the compiled C++). ``rounding="single"`` is the ``TFLITE_SINGLE_ROUNDING`` variant:
    ``(x * m + (1 << (30 - shift))) >> (31 - shift)`` in int64 (needs m >= 0, -31 <= shift <= 30).
    Per-channel multiplier/shift arrays broadcast along the last axis.

    >>> m, s = quantize_multiplier(0.25)
    >>> multiply_by_quantized_multiplier([10, -10, 6, -6], m, s)
    array([ 3, -3,  2, -2])
    """
    x = _i64(x)
    m = _i64(quantized_multiplier)
    s = _i64(shift)
    if rounding == "double":
        left = np.maximum(s, 0)
        right = np.maximum(-s, 0)
        xs = wrap_int32(x << left)
        return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(xs, m), right)
    if rounding == "single":
        total = 31 - s
        return _out((x * m + (np.int64(1) << (total - 1))) >> total)
    raise ValueError(f"rounding must be 'double' or 'single', not {rounding!r}")


def multiply_by_quantized_multiplier_int64(x: ArrayLike, quantized_multiplier: ArrayLike,
                                           shift: ArrayLike) -> np.ndarray:
    """``tflite::MultiplyByQuantizedMultiplier(int64_t x, int32_t multiplier, int shift)`` (int16 kernels).

    The multiplier is first reduced to Q15 (``(m + 2**15) >> 16``, or 0x7FFF when m >= 0x7FFF0000),
    then one rounding shift by ``15 - shift``; both rounding variants share this code. x must lie in
    [-2**47, 2**47) and shift in [-31, 7]. The result is truncated to int32 like the C++ cast.
    """
    x = _i64(x)
    m = _i64(quantized_multiplier)
    s = _i64(shift)
    reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - s
    return wrap_int32((x * reduced + (np.int64(1) << (total - 1))) >> total)


def multiply_by_quantized_multiplier_smaller_than_one_exp(x: ArrayLike, quantized_multiplier: ArrayLike,
                                                          left_shift: ArrayLike) -> np.ndarray:
    """``tflite::MultiplyByQuantizedMultiplierSmallerThanOneExp``: left_shift <= 0.

    ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, m), -left_shift)``.
    """
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, quantized_multiplier),
                                  -_i64(left_shift))


def multiply_by_quantized_multiplier_greater_than_one(x: ArrayLike, quantized_multiplier: ArrayLike,
                                                      left_shift: ArrayLike) -> np.ndarray:
    """``tflite::MultiplyByQuantizedMultiplierGreaterThanOne``: left_shift >= 0.

    ``SaturatingRoundingDoublingHighMul(x * (1 << left_shift), m)`` (int32 product wraps).
    """
    xs = wrap_int32(_i64(x) << _i64(left_shift))
    return saturating_rounding_doubling_high_mul(xs, quantized_multiplier)


def calculate_activation_range_quantized(activation: int | str, scale: float, zero_point: int,
                                         qmin: int, qmax: int) -> tuple[int, int]:
    """Fused-activation clamp bounds: ``tflite::CalculateActivationRangeQuantized`` (its Impl).

    ``quantize(f) = zero_point + (int32)std::round(f / scale)`` in float32, then RELU ->
    ``[max(qmin, q(0)), qmax]``, RELU6 -> ``[max(qmin, q(0)), min(qmax, q(6))]``, RELU_N1_TO_1 ->
    ``[max(qmin, q(-1)), min(qmax, q(1))]``; NONE and every other activation (TANH, SIGN_BIT) get
    ``[qmin, qmax]`` exactly like the C++ ``else`` branch. ``activation`` is the schema enum value
    or its name.

    >>> calculate_activation_range_quantized("RELU6", 0.05, -128, -128, 127)
    (-128, -8)
    """
    if isinstance(activation, str):
        try:
            act = _ACTIVATIONS[activation.upper()]
        except KeyError:
            raise ValueError(f"unknown fused activation {activation!r}") from None
    else:
        act = int(activation)
    s = np.float32(scale)

    def q(f: float) -> int:
        return int(zero_point) + int(round_half_away(np.divide(np.float32(f), s, dtype=np.float32)))

    if act == ACT_RELU:
        return max(qmin, q(0.0)), qmax
    if act == ACT_RELU6:
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if act == ACT_RELU_N1_TO_1:
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    return qmin, qmax
