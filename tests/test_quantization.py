"""Array-level PTQ math: parameter choice, bit-exact quantize, metrics, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import edgequant.quantization as Q
from edgequant import qmath
from edgequant.errors import EdgequantError
from edgequant.quantization import QuantizationError, QuantParams, choose_qparams, dequantize, quantize


@pytest.fixture(scope="module")
def normal():
    return np.random.default_rng(0).standard_normal(100_000).astype(np.float32)


def test_asymmetric_follows_tflite_choose_quantization_params():
    qp = choose_qparams(np.array([0.5, 2.0], np.float32))  # range widened to include 0
    assert qp.qmin == -128 and qp.qmax == 127 and qp.levels == 256 and not qp.per_channel
    assert qp.scale.dtype == np.float32 and qp.zero_point.dtype == np.int64
    assert np.isclose(qp.scale, 2.0 / 255) and qp.zero_point == -128
    qp = choose_qparams(np.array([-1.0, 2.0], np.float32))
    # zero_point_from_min = -128 + 1 / (3/255) = -42.999..; std::round -> -43
    assert qp.zero_point == -43
    assert quantize(np.float32(0.0), qp) == qp.zero_point  # 0.0 exact
    assert dequantize(quantize(np.float32(0.0), qp), qp) == 0.0


def test_symmetric_weights_narrow_range():
    w = np.array([-0.5, 0.25, 1.27], np.float32)
    qp = choose_qparams(w, symmetric=True)
    assert (qp.qmin, qp.qmax, int(qp.zero_point)) == (-127, 127, 0)
    assert np.isclose(qp.scale, 1.27 / 127)
    np.testing.assert_array_equal(quantize(w, qp), [-50, 25, 127])
    qp_wide = choose_qparams(w, symmetric=True, narrow_range=False)
    assert qp_wide.qmin == -128


def test_quantize_is_bit_identical_to_qmath_reference(normal):
    x = normal * 3
    for qp in (choose_qparams(x), choose_qparams(x, symmetric=True), choose_qparams(x, bits=4),
               choose_qparams(x, bits=16), choose_qparams(x, signed=False), choose_qparams(x, bits=12)):
        got = quantize(x, qp)
        want = qmath.quantize_affine(x, qp.scale, qp.zero_point, qp.qmin, qp.qmax)
        np.testing.assert_array_equal(got.astype(np.int64), want)
        assert got.dtype == qp.storage_dtype


def test_quantize_exact_on_ties_and_multithreaded_path(monkeypatch):
    # exact halves in float32: x / s lands on k + 0.5 for s = 0.5 -> round away from zero
    x = np.repeat(np.array([0.25, -0.25, 0.75, -0.75, 1.25], np.float32), 400_000)  # 2M values: threads
    qp = QuantParams(np.float32(0.5), np.int64(3), bits=8)
    got = quantize(x, qp)
    np.testing.assert_array_equal(got[::400_000], [4, 2, 5, 1, 6])  # 0.5 -> 1, -0.5 -> -1, 1.5 -> 2, ...
    np.testing.assert_array_equal(np.unique(got), [1, 2, 4, 5, 6])
    monkeypatch.setattr(Q, "BLOCK", 1000)  # many odd-sized tiles
    np.testing.assert_array_equal(quantize(x, qp), got)


def test_per_channel_any_axis(normal):
    w = normal[:4 * 3 * 5 * 6].reshape(4, 3, 5, 6) * np.array([0.01, 1, 10, 100], np.float32).reshape(4, 1, 1, 1)
    for axis in (0, 1, 3, -1):
        qp = choose_qparams(w, symmetric=True, axis=axis)
        assert qp.per_channel and qp.scale.shape == (w.shape[axis],)
        got = quantize(w, qp)
        want = qmath.quantize_affine(w, qp.scale, qp.zero_point, qp.qmin, qp.qmax, axis=qp.axis)
        np.testing.assert_array_equal(got, want)
        back = dequantize(got, qp)
        shape = [1] * 4
        shape[qp.axis] = -1
        assert np.all(np.abs(back - w) <= qp.scale.reshape(shape) / 2 + 1e-7)
    # per-channel keeps the small channel that per-tensor flushes to zero
    pt = choose_qparams(w, symmetric=True)
    pc = choose_qparams(w, symmetric=True, axis=0)
    assert Q.sqnr_db(w[0], Q.fake_quantize(w, pc)[0]) > 35
    assert Q.sqnr_db(w[0], Q.fake_quantize(w, pt)[0]) < 1


def test_per_channel_asymmetric_large_rows(monkeypatch):
    monkeypatch.setattr(Q, "BLOCK", 4096)
    x = np.random.default_rng(2).uniform(-1, 3, size=(3, 10_000)).astype(np.float32)
    qp = choose_qparams(x, axis=0)
    np.testing.assert_array_equal(quantize(x, qp), qmath.quantize_affine(x, qp.scale, qp.zero_point, -128, 127, axis=0))
    np.testing.assert_allclose(dequantize(quantize(x, qp), qp), Q.fake_quantize(x, qp))


def test_dequantize_matches_reference_formula():
    qp = QuantParams(np.float32(0.1), np.int64(-5), bits=8)
    q = np.arange(-128, 128, dtype=np.int8)
    want = ((q.astype(np.int32) + 5).astype(np.float32) * np.float32(0.1)).astype(np.float32)
    np.testing.assert_array_equal(dequantize(q, qp), want)


def test_max_error_is_half_a_step_inside_the_range(normal):
    qp = choose_qparams(normal)
    r = Q.error_report(normal, qp)
    assert r["max_abs_error"] <= float(qp.scale) / 2 * (1 + 1e-5)
    assert r["fraction_clipped"] == 0.0
    assert 35 < r["sqnr_db"] < 45 and r["cosine_similarity"] > 0.9998
    assert 200 < r["levels_used"] <= 256


def test_midpoint_vs_tflite_numbers(normal):
    """The numbers quoted in choose_qparams' docstring."""
    mp = choose_qparams(normal, scheme="midpoint")
    tf = choose_qparams(normal)
    lo, hi = float(normal.min()), float(normal.max())
    assert np.isclose(mp.scale, (hi - lo) / 256) and np.isclose(mp.midpoint, (hi + lo) / 2)
    q = quantize(normal, mp)
    # seed lesson, verbatim behaviour
    seed = np.clip(np.round((normal - mp.midpoint) / mp.scale), -128, 127).astype(np.int8)
    np.testing.assert_array_equal(q, seed)
    np.testing.assert_array_equal(dequantize(q, mp), (seed * mp.scale + mp.midpoint).astype(np.float32))
    err_mp = Q.max_abs_error(normal, Q.fake_quantize(normal, mp)) / float(mp.scale)
    err_tf = Q.max_abs_error(normal, Q.fake_quantize(normal, tf)) / float(tf.scale)
    assert 0.99 < err_mp <= 1.0 + 1e-4  # the max is clipped by a whole step
    assert err_tf <= 0.5 + 1e-4
    zero = np.zeros(1, np.float32)
    assert Q.fake_quantize(zero, tf)[0] == 0.0
    assert Q.fake_quantize(zero, mp)[0] != 0.0  # 0.0 not representable
    assert abs(Q.fake_quantize(zero, mp)[0]) / float(mp.scale) < 0.5


def test_constant_and_zero_tensors_get_valid_scales():
    c = np.full(10, 3.0, np.float32)
    for kw in ({}, {"symmetric": True}, {"scheme": "midpoint"}, {"bits": 2}):
        qp = choose_qparams(c, **kw)
        assert np.all(np.isfinite(qp.scale)) and np.all(qp.scale > 0)
        np.testing.assert_allclose(Q.fake_quantize(c, qp), c, rtol=1e-6)
    z = np.zeros((2, 3), np.float32)
    for kw in ({}, {"symmetric": True}, {"axis": 0}):
        qp = choose_qparams(z, **kw)
        assert np.all(qp.scale == 1.0)
        np.testing.assert_array_equal(Q.fake_quantize(z, qp), z)


@pytest.mark.parametrize("bad,kw", [
    (np.array([], np.float32), {}),
    (np.array([1.0, np.nan], np.float32), {}),
    (np.array([1.0, np.inf], np.float32), {}),
    (np.ones(4, np.float32), {"bits": 1}),
    (np.ones(4, np.float32), {"bits": 17}),
    (np.ones((2, 2), np.float32), {"axis": 2}),
    (np.ones((2, 2), np.float32), {"axis": -3}),
    (np.ones(4, np.float32), {"scheme": "kl"}),
    (np.ones(4, np.float32), {"symmetric": True, "signed": False}),
])
def test_bad_input_raises_quantization_error(bad, kw):
    with pytest.raises(QuantizationError) as e:
        choose_qparams(bad, **kw)
    assert isinstance(e.value, ValueError) and isinstance(e.value, EdgequantError)


def test_quantize_nan_raises_and_inf_saturates():
    qp = QuantParams(np.float32(0.1), np.int64(0))
    with pytest.raises(QuantizationError):
        quantize(np.array([1.0, np.nan], np.float32), qp)
    np.testing.assert_array_equal(quantize(np.array([np.inf, -np.inf], np.float32), qp), [127, -128])
    with pytest.raises(QuantizationError):
        QuantParams(np.float32(np.nan), np.int64(0))
    with pytest.raises(QuantizationError):
        QuantParams(np.float32(0.1), np.int64(300))


def test_range_argument_from_an_observer():
    qp = choose_qparams(None, range=(-1.0, 1.0), symmetric=True)
    assert np.isclose(qp.scale, 1 / 127)
    qp = choose_qparams(None, range=(np.array([-1.0, -2.0]), np.array([1.0, 4.0])), axis=0)
    assert qp.scale.shape == (2,) and qp.per_channel
    with pytest.raises(QuantizationError):
        choose_qparams(None, range=(1.0, -1.0))


def test_float16():
    x = np.array([1.0, 1e-8, 70000.0, 0.1], np.float32)
    qp = choose_qparams(x, dtype="float16")
    q = quantize(x, qp)
    assert q.dtype == np.float16 and np.isinf(q[2])
    assert Q.fraction_clipped(x, qp) == 0.25
    np.testing.assert_array_equal(dequantize(q, qp), q.astype(np.float32))


def test_metrics_known_values():
    x = np.array([1.0, 0.0, -1.0, 2.0])
    y = np.array([1.0, 0.5, -1.0, 2.0])
    assert Q.max_abs_error(x, y) == 0.5 and Q.mse(x, y) == 0.0625
    assert np.isclose(Q.sqnr_db(x, y), 10 * np.log10(6 / 0.25))
    assert Q.sqnr_db(x, x) == np.inf and Q.cosine_similarity(x, x) == pytest.approx(1.0)
    assert Q.cosine_similarity(x, -x) == pytest.approx(-1.0)
    assert Q.levels_used(np.array([3, 3, -4, 7], np.int8)) == 3
    qp = QuantParams(np.float32(1.0), np.int64(0), bits=4)  # [-8, 7]
    assert Q.fraction_clipped(np.array([7.4, 7.6, -8.6, 0.0]), qp) == 0.5
    with pytest.raises(QuantizationError):
        Q.mse(x, y[:2])


def test_misuse_of_the_math_is_a_clear_error():
    with pytest.raises(QuantizationError, match="counts from the end of an array's shape"):
        Q.choose_qparams(None, range=(np.zeros(3), np.ones(3)), axis=-1)
    qp = Q.choose_qparams(np.linspace(-1, 1, 12, dtype=np.float32))
    with pytest.raises(QuantizationError, match="dequantize takes integers"):
        Q.dequantize(np.linspace(-1, 1, 12), qp)
