"""qmath.quantize_affine_with_errors (balanced rounding's one division for both the integers and their errors)
against quantize_affine and the error written out the long way, on the values where a fast path could go wrong:
ties (which rint rounds to even), NaN, infinities, clamped values, and on each of its block layouts."""

from __future__ import annotations

import numpy as np
import pytest

from edgequant import qmath


def _expected(x: np.ndarray, s: np.ndarray, qmin: int, qmax: int) -> tuple[np.ndarray, np.ndarray]:
    q = qmath.quantize_affine(x, s, 0, qmin, qmax)  # int64, the reference Quantize
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = q.astype(np.float32) - np.divide(x, s, dtype=np.float32)
    return q, r


@pytest.mark.parametrize("shape", [(7,), (40, 9, 40), (160, 9, 160), (3, 40000), (1, 9, 70000)],
                         ids=["small", "one-block", "blocks", "rows-over-a-block", "one-row-over-a-block"])
@pytest.mark.parametrize("kind", ["plain", "ties", "nan-inf", "clamped"])
def test_integers_and_errors_equal_quantize_affine(shape, kind):
    rng = np.random.default_rng(len(shape) * 100 + shape[-1])
    s = rng.uniform(0.01, 0.02, (shape[0],) + (1,) * (len(shape) - 1)).astype(np.float32)
    x = (rng.uniform(-126, 126, shape) * s).astype(np.float32)
    if kind == "ties":  # x / s exactly k + 0.5 where s is a power of two
        s[...] = np.float32(2.0 ** -6)
        x.reshape(-1)[::5] = (rng.integers(-120, 120, x.size)[::5] + 0.5).astype(np.float32) * s.reshape(-1)[0]
    elif kind == "nan-inf":
        x.reshape(-1)[::997] = np.nan
        x.reshape(-1)[1::1009] = np.inf
        x.reshape(-1)[2::1013] = -np.inf
    elif kind == "clamped":
        x *= np.float32(1.7)
        x.reshape(-1)[::11] = np.float32(127.5) * s.reshape(-1)[0]  # clamped at exactly half a step: not a tie
    q, r = np.empty(shape, np.int8), np.empty(shape, np.float32)
    qmath.quantize_affine_with_errors(x, s, -127, 127, q, r)
    want_q, want_r = _expected(x, s, -127, 127)
    np.testing.assert_array_equal(q, want_q)
    np.testing.assert_array_equal(r, want_r)
    if kind == "ties":
        assert (np.abs(r) == 0.5).any()  # the case was there to be handled


def test_per_tensor_scale_zero_scale_and_strided_outputs():
    x = np.array([[0.3, -0.3, 0.0], [1.0, -2.0, 0.5]], np.float32)
    for s in (np.float32(0.25), np.float32(0.0)):
        q_all, r_all = np.zeros((2, 6), np.int8), np.zeros((2, 6), np.float32)
        q, r = q_all[:, ::2], r_all[:, ::2]  # strided views, as balanced_many's joined arrays give
        qmath.quantize_affine_with_errors(x, s, -127, 127, q, r)
        want_q, want_r = _expected(x, s, -127, 127)
        np.testing.assert_array_equal(q, want_q)
        np.testing.assert_array_equal(r, want_r)
        assert not q_all[:, 1::2].any() and not r_all[:, 1::2].any()  # the slots between are not written


def test_zero_dimensional_and_empty():
    for x in (np.array(0.7, np.float32), np.zeros((0, 3), np.float32)):
        q, r = np.empty(x.shape, np.int8), np.empty(x.shape, np.float32)
        qmath.quantize_affine_with_errors(x, np.float32(0.5), -127, 127, q, r)
        want_q, want_r = _expected(x, np.float32(0.5), -127, 127)
        np.testing.assert_array_equal(q, want_q)
        np.testing.assert_array_equal(r, want_r)
