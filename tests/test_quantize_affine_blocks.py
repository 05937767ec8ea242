"""qmath.quantize_affine on big arrays (blocks through kept work arrays, rint mended at ties) against the plain
whole-array formulation it replaced (fmax/fmin clamp, then round half away by adding copysign(0.49999997, v) and
truncating), itself held against a scalar transliteration of reference_ops::AffineQuantize in
tests/test_quantize_affine_clamp.py."""

from __future__ import annotations

import numpy as np
import pytest

from edgequant import qmath


def _reference(x, scale, zp, qmin, qmax, axis=None, dtype=np.int64):
    xf = np.asarray(x, np.float32)
    s = np.asarray(scale, np.float32)
    z = np.asarray(zp, np.int64)
    if axis is not None and s.ndim == 1:
        shape = [1] * xf.ndim
        shape[axis % xf.ndim] = -1
        s = s.reshape(shape)
        z = z.reshape(shape) if z.ndim == 1 else z
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        v = np.fmin(np.fmax(np.divide(xf, s, dtype=np.float32), (qmin - z).astype(np.float32)),
                    (qmax - z).astype(np.float32))
        v = v + np.copysign(np.nextafter(np.float32(0.5), np.float32(0)), v)
    return (v.astype(np.int64) + z).astype(dtype)


def _weights(shape, ties: bool, specials: bool) -> np.ndarray:
    rng = np.random.default_rng(sum(shape))
    w = (rng.standard_t(3, shape) * 0.05).astype(np.float32)
    flat = w.reshape(-1)
    if ties:  # exact halves of the step 2**-7 used below, in the first block only
        flat[:10] = (np.arange(10) - 4.5).astype(np.float32) * np.float32(2.0**-7)
    if specials:
        flat[-7:] = [np.nan, np.inf, -np.inf, 1e30, -1e30, -0.0, 0.49999997 * 2.0**-7]
    return w


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("specials", [False, True])
@pytest.mark.parametrize("shape, axis", [((160, 3, 3, 80), 0), ((1, 3, 3, 9000), 3), ((40, 700, 5), 1),
                                         ((90_000,), None), ((3, 40_000), 0), ((2, 70_000), None),
                                         ((90, 100), 0), ((9000,), None)])  # one block
def test_blocks_match_the_whole_array_formulation(shape, axis, ties, specials):
    w = _weights(shape, ties, specials)
    n = 1 if axis is None else shape[axis]
    scale = np.full(n, 2.0**-7, np.float32)  # ties land on halves exactly
    scale[1::3] = np.float32(0.0123)
    assert w.size >= qmath._SMALL  # the blocked path
    for zp, dtype in (([0] * n if axis is not None else 0, np.int8), (0, np.int64)):
        got = qmath.quantize_affine(w, scale if axis is not None else scale[0], zp, -127, 127, axis=axis, dtype=dtype)
        want = _reference(w, scale if axis is not None else scale[0], zp, -127, 127, axis=axis, dtype=dtype)
        assert got.dtype == np.dtype(dtype) and got.shape == w.shape
        np.testing.assert_array_equal(got, want)
    zp = np.arange(n) % 7 - 3 if axis is not None else 5  # asymmetric: zero points shift the clamp
    got = qmath.quantize_affine(w, scale if axis is not None else scale[0], zp, -128, 127, axis=axis)
    np.testing.assert_array_equal(got, _reference(w, scale if axis is not None else scale[0], zp, -128, 127, axis))


def test_ties_round_away_from_zero_in_the_blocked_path():
    x = np.zeros(3 * qmath._BLOCK, np.float32)
    x[:6] = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5]  # rint alone would give 0, 2, 2, -0, -2, -2
    np.testing.assert_array_equal(qmath.quantize_affine(x, 1.0, 0, -127, 127, dtype=np.int8)[:6], [1, 2, 3, -1, -2, -3])


def test_broadcast_along_the_last_axis_without_axis():
    w = _weights((500, 200), ties=False, specials=True)
    scale = np.linspace(0.001, 0.01, 200).astype(np.float32)
    np.testing.assert_array_equal(qmath.quantize_affine(w, scale, 0, -127, 127),
                                  _reference(w, scale, 0, -127, 127))
