"""qmath.quantize_affine's clamp (in place, fmax/fmin so NaN lands on qmin) against a scalar transliteration of
reference_ops::AffineQuantize / PerChannelQuantize, on arrays mixing ties, NaN, infinities and values far out
of range, per tensor and per channel, with and without zero points."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgequant import qmath


def _ref(x: float, scale: float, zp: int, qmin: int, qmax: int) -> int:
    v = float(np.float32(np.float32(x) / np.float32(scale)))  # float division, as the C++
    if math.isnan(v):
        return qmin  # x86's cvttss2si gives INT32_MIN, clamped to qmin
    if math.isinf(v):
        return qmax if v > 0 else qmin
    r = math.floor(abs(v) + 0.5) * (1 if v >= 0 else -1)  # std::round: halves away from zero (exact on floats)
    return min(max(int(r) + zp, qmin), qmax)


def _values() -> np.ndarray:
    rng = np.random.default_rng(5)
    special = [np.nan, np.inf, -np.inf, 1e30, -1e30, 0.5, -0.5, 1.5, -2.5, 0.49999997, -0.0, 127.5, -128.5]
    return np.concatenate([special, rng.standard_normal(387) * 40]).astype(np.float32).reshape(100, 4)


@pytest.mark.parametrize("zp", [[0, 0, 0, 0], [3, -7, 0, 127]])
@pytest.mark.parametrize("axis", [None, 1])
def test_quantize_affine_matches_the_scalar_reference(zp, axis):
    x = _values()
    scale = np.array([0.5, 0.03, 1.0, 0.25], np.float32)
    if axis is None:
        got = qmath.quantize_affine(x, scale, zp, -128, 127)  # broadcast along the last axis
    else:
        got = qmath.quantize_affine(x, scale, zp, -128, 127, axis=axis)
    assert got.dtype == np.int64
    want = [[_ref(x[i, c], scale[c], zp[c], -128, 127) for c in range(4)] for i in range(x.shape[0])]
    np.testing.assert_array_equal(got, want)


def test_quantize_affine_scalar_against_per_channel_zero_points():
    # the zero points broadcast to more values than x has: the clamp cannot work in place, the result is (2,)
    got = qmath.quantize_affine(np.float32(np.nan), 0.5, np.array([1, -3]), -128, 127)
    np.testing.assert_array_equal(got, [-128, -128])
    got = qmath.quantize_affine(2.5, 1.0, np.array([1, -3]), -128, 127)
    np.testing.assert_array_equal(got, [4, 0])
