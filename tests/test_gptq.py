"""GPTQ weight rounding (edgequant.quantizer.gptq): lower layer-output error than nearest rounding on data it
did not see, same scales and file layout, its two code paths (shared H with lazy blocks, one H per row) agree,
and on the digits fixtures every weight mode's held-out output SQNR is at least nearest rounding's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgequant as eq
from edgequant import Interpreter
from edgequant.errors import EdgequantError
from edgequant.quantization import quantize as quantize_nearest
from edgequant.quantizer import Recipe, gptq, quantize, quantize_with_report
from edgequant.quantizer.weights import weight_params

FIX = Path(__file__).resolve().parent / "data" / "fixtures"


def _correlated_inputs(rng, n: int, k: int) -> np.ndarray:
    """Inputs with strongly correlated features, as neighbouring pixels or channels are."""
    mix = rng.normal(size=(k // 4, k)) / np.sqrt(k // 4)
    return (rng.normal(size=(n, k // 4)) @ mix + 0.05 * rng.normal(size=(n, k))).astype(np.float32)


@pytest.mark.parametrize("seed", range(3))
def test_gptq_lowers_output_error_on_held_out_inputs(seed):
    rng = np.random.default_rng(seed)
    k, rows = 200, 48
    x = _correlated_inputs(rng, 3000, k)
    calib, held = x[:1000], x[1000:]
    w = rng.normal(size=(rows, k)).astype(np.float32)
    qp = weight_params(w, 0)
    h = calib.T.astype(np.float64) @ calib / len(calib)
    q_g = gptq.round_weights(w, qp, h, "FULLY_CONNECTED")
    q_n = quantize_nearest(w, qp)
    s = np.asarray(qp.scale, np.float64)[:, None]

    def out_err(q):
        return float(np.sum(((w - q * s) @ held.T) ** 2))

    assert q_g.min() >= -127 and q_g.max() <= 127
    assert out_err(q_g) < 0.5 * out_err(q_n)  # measured ~0.1-0.2 with these correlations
    # and it is a different trade: each weight on its own is further from its float value
    assert np.sum((w - q_g * s) ** 2) > np.sum((w - q_n * s) ** 2)


def test_gptq_without_statistics_or_on_an_asymmetric_grid_defers_to_nearest():
    w = np.ones((4, 8), np.float32)
    qp = weight_params(w, 0)
    assert gptq.round_weights(w, qp, None, "FULLY_CONNECTED") is None
    assert gptq.round_weights(w, qp, np.eye(5), "FULLY_CONNECTED") is None  # K mismatch
    assert gptq.round_weights(w, qp, np.eye(8), "FULLY_CONNECTED") is not None


def test_blocked_updates_equal_one_block(monkeypatch):
    rng = np.random.default_rng(7)
    k = 3 * gptq.BLOCK + 17
    x = _correlated_inputs(rng, 800, k - k % 4)
    x = np.concatenate([x, rng.normal(size=(800, k % 4)).astype(np.float32)], axis=1)
    w = rng.normal(size=(16, k))
    s = np.abs(w).max(axis=1) / 127
    h = x.T.astype(np.float64) @ x
    blocked = gptq._gptq(w, s, h, -127, 127)
    monkeypatch.setattr(gptq, "BLOCK", 10 * k)
    np.testing.assert_array_equal(blocked, gptq._gptq(w, s, h, -127, 127))


def test_one_h_per_row_equals_each_row_alone():
    """The depthwise path (a stack of H, every row at once) against the shared-H path run row by row."""
    rng = np.random.default_rng(3)
    rows, k = 12, 9
    w = rng.normal(size=(rows, k))
    s = np.abs(w).max(axis=1) / 127
    hs = np.stack([(a := rng.normal(size=(50, k))).T @ a for _ in range(rows)])
    hs[4, 2, :] = hs[4, :, 2] = 0.0  # a tap that never sees data in one channel
    stacked = gptq._gptq(w, s, hs, -127, 127)
    alone = np.concatenate([gptq._gptq(w[r:r + 1], s[r:r + 1], hs[r], -127, 127) for r in range(rows)])
    np.testing.assert_array_equal(stacked, alone)


@pytest.fixture(scope="module")
def digits():
    d = dict(np.load(FIX / "digits_split.npz"))
    return {name: eq.load_file(FIX / f"{name}.tflite") for name in ("digits_cnn", "digits_resnet")}, d


def _sqnr(ref: np.ndarray, y: np.ndarray) -> float:
    ref = ref.astype(np.float64)
    return float(10 * np.log10(np.sum(ref ** 2) / np.sum((ref - y) ** 2)))


def _float_out(blob: bytes, x: np.ndarray) -> np.ndarray:
    it = Interpreter(blob)
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    if i["dtype"] != np.float32:
        s, z = i["quantization"]
        info = np.iinfo(i["dtype"])
        x = np.clip(np.floor(x / s + 0.5) + z, info.min, info.max).astype(i["dtype"])
    y = it.run([x])[0]
    if o["dtype"] != np.float32:
        s, z = o["quantization"]
        y = (y.astype(np.float32) - z) * s
    return y


@pytest.mark.parametrize("mode", ["weight_only_int8", "dynamic_int8", "int8", "int16x8"])
def test_gptq_beats_nearest_on_held_out_digits(digits, mode):
    models, d = digits
    for name, m in models.items():
        ref = _float_out(eq.save(m), d["x_test"])
        nearest, rep_n = quantize_with_report(m, Recipe.preset(mode, weight_rounding="nearest",
                                                                min_weight_elements=0), d["x_calib"])
        g, rep_g = quantize_with_report(m, Recipe.preset(mode), d["x_calib"])
        assert rep_g.recipe["weight_rounding"] == "gptq" and rep_g.recipe["min_weight_elements"] == 0
        assert rep_g.calibration["samples"] == len(d["x_calib"])
        assert rep_g.quantized_weights == rep_n.quantized_weights
        b_n, b_g = eq.save(nearest), eq.save(g)
        assert len(b_g) == len(b_n)  # the same tensors, scales and layout: only the integers differ
        s_n, s_g = _sqnr(ref, _float_out(b_n, d["x_test"])), _sqnr(ref, _float_out(b_g, d["x_test"]))
        assert s_g > s_n, f"{name} {mode}: GPTQ {s_g:.1f} dB vs nearest {s_n:.1f} dB"


def test_gptq_keeps_every_weight_scale(digits):
    models, d = digits
    m = models["digits_resnet"]
    a = quantize(m, Recipe.weight_only_int8(weight_rounding="nearest", weight_range="minmax"), d["x_calib"])
    b = quantize(m, Recipe.weight_only_int8(), d["x_calib"])  # GPTQ, with minmax scales
    changed = 0
    for ta, tb in zip(a.main.tensors, b.main.tensors, strict=True):
        assert ta.name == tb.name and ta.type == tb.type
        if ta.quantization is not None and ta.quantization.scale is not None:
            np.testing.assert_array_equal(ta.quantization.scale, tb.quantization.scale)
        if ta.type == eq.dtypes.INT8 and ta.is_constant:
            changed += not np.array_equal(ta.numpy(), tb.numpy())
    assert changed >= 3  # every conv and dense layer got its own rounding


def test_gptq_needs_calibration_data(digits):
    models, _ = digits
    with pytest.raises(EdgequantError, match="gptq.*calibration data") as e:
        quantize(models["digits_cnn"], Recipe.dynamic_int8(weight_rounding="gptq"))
    assert "\n" not in str(e.value)
    # "auto" without data: balanced rounding with min/max scales, no error
    _, rep = quantize_with_report(models["digits_cnn"], Recipe.dynamic_int8())
    assert rep.recipe["weight_rounding"] == "balanced" and rep.recipe["weight_range"] == "minmax"
    assert rep.calibration is None


@pytest.mark.parametrize("n", [9, 64, 65, 300])
def test_upper_inverse_cholesky_factors_the_inverse(n):
    """U is upper triangular with U^T U = H^-1, for single matrices (sizes around the block split) and a stack
    (one H per depthwise channel); an indefinite H gives None."""
    from edgequant.quantizer.gptq import _upper_inverse_cholesky

    rng = np.random.default_rng(n)
    a = rng.standard_normal((2 * n, n))
    for h in (a.T @ a, np.stack([a.T @ a, a.T @ a + np.eye(n)])):
        u = _upper_inverse_cholesky(h)
        assert np.array_equal(u, np.triu(u)) and np.all(np.diagonal(u, axis1=-2, axis2=-1) > 0)
        np.testing.assert_allclose(np.swapaxes(u, -1, -2) @ u @ h, np.broadcast_to(np.eye(n), h.shape), atol=1e-8)
    assert _upper_inverse_cholesky(a.T @ a - 1e3 * np.eye(n)) is None


def test_statistics_that_overflowed_make_gptq_round_to_nearest():
    """Calibration values near 1e20 made the float32 Gram products inf, and the inverse raised numpy's
    LinAlgError ("Singular matrix") through quantize: such a layer now rounds to nearest."""
    from edgequant.quantizer.gptq import _gptq, _nearest, _upper_inverse_cholesky

    rng = np.random.default_rng(0)
    w, s = rng.standard_normal((4, 80)), np.full(4, 0.02)
    a = rng.standard_normal((200, 80)).astype(np.float32) * np.float32(1e20)
    with np.errstate(over="ignore"):
        h = (a.T @ a).astype(np.float64)  # float32 overflow: inf on the diagonal
    assert not np.all(np.isfinite(h)) and _upper_inverse_cholesky(h) is None
    np.testing.assert_array_equal(_gptq(w, s, h, -127, 127), _nearest(w, s, -127, 127))
