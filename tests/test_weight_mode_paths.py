"""Fast paths of the data-free weight modes held against the slower ones they replace.

* ``quantize_affine(..., dtype=int8)`` casts the clamped, rounded floats straight to int8; it must give what the
  int64 result cast afterwards gives (the kernels' and the writer's values), NaN and infinities included.
* ``rewrite_weights`` computes every weight tensor's parameters ahead, in one batched search
  (``_weight_params_ahead``); the written model must be byte for byte the one the per-tensor calls give.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgequant as eq
from edgequant.qmath import quantize_affine
from edgequant.quantizer import Recipe, quantize, quantize_with_report
from edgequant.quantizer import rewrite as R

FIX = Path(__file__).resolve().parent / "data" / "fixtures"


@pytest.mark.parametrize("zp, qmin, qmax, dtype", [(0, -127, 127, np.int8), (0, -128, 127, np.int8),
                                                   (3, -128, 127, np.int8), (0, -32767, 32767, np.int16),
                                                   (0, 0, 255, np.uint8), (128, 0, 255, np.uint8)])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_quantize_affine_narrow_dtype_matches_int64_then_cast(zp, qmin, qmax, dtype, axis):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((6, 50)) * 3).astype(np.float32)
    x[0, :6] = [np.nan, np.inf, -np.inf, -0.0, 0.5, -0.5]
    x[1, :4] = [1e30, -1e30, 0.0251, -0.0251]
    if axis is None:
        scale, z = np.float32(0.01), zp
    else:
        channels = x.shape[axis]
        scale = rng.uniform(0.005, 0.05, channels).astype(np.float32)
        z = np.full(channels, zp)
    want = quantize_affine(x, scale, z, qmin, qmax, axis=axis).astype(dtype)
    got = quantize_affine(x, scale, z, qmin, qmax, axis=axis, dtype=dtype)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    assert quantize_affine(np.float32(0.5), np.float32(1), 0, -127, 127, dtype=np.int8) == 1  # a scalar stays one


@pytest.mark.parametrize("mode", ["weight_only_int8", "dynamic_int8"])
@pytest.mark.parametrize("name", ["digits_cnn", "digits_resnet"])
@pytest.mark.parametrize("weight_range", ["mse", "minmax"])
def test_weight_params_found_ahead_write_the_same_model(mode, name, weight_range, monkeypatch):
    model = eq.load_file(FIX / f"{name}.tflite")
    recipe = Recipe.preset(mode, weight_range=weight_range, per_channel=name == "digits_cnn")
    single = R._weight_params
    late = []  # tensors the loop had to ask for itself: the search ahead missed them
    monkeypatch.setattr(R, "_weight_params", lambda *a: late.append(1) or single(*a))
    ahead = eq.save(quantize(model, recipe, None))
    assert not late
    monkeypatch.setattr(R, "_weight_params_ahead", lambda *a: {})
    one_by_one = eq.save(quantize(model, recipe, None))
    assert late and ahead == one_by_one


@pytest.mark.parametrize("shape, axis", [((16, 3, 3, 8), 0), ((1, 3, 3, 24), 3), ((1, 3, 3, 24), -1),
                                         ((40, 30), 0), ((500,), None), ((7, 9), None)])
def test_minmax_scales_from_the_search_rows_are_choose_qparams_ones(shape, axis):
    from edgequant.quantization import QuantizationError, choose_qparams
    from edgequant.quantizer.weights import weight_params_many

    rng = np.random.default_rng(3)
    w = (rng.standard_normal(shape) * rng.uniform(1e-3, 1.0)).astype(np.float32)
    if axis is not None:
        np.moveaxis(w, axis, 0)[1] = 0  # an all-zero channel: scale 1.0
    w.reshape(-1)[5] = 1e-39  # a subnormal
    for got, x in zip(weight_params_many([(w, axis), (w.astype(np.float64), axis)]), (w, w.astype(np.float64))):
        want = choose_qparams(x, bits=8, symmetric=True, axis=axis)
        assert got.scale.dtype == want.scale.dtype and got.scale.shape == want.scale.shape
        np.testing.assert_array_equal(got.scale, want.scale)
        np.testing.assert_array_equal(got.zero_point, want.zero_point)
        assert (got.axis, got.qmin, got.qmax) == (want.axis, want.qmin, want.qmax)
    w.reshape(-1)[0] = np.nan
    with pytest.raises(QuantizationError, match="NaN"):
        weight_params_many([(w, axis)], "mse")


def _litert_ref(blob: bytes, x: np.ndarray) -> np.ndarray:
    from test_quantize import run_litert  # LiteRT's reference kernels, one invoke per sample

    return run_litert(bytes(blob), x, ref=True)


def test_per_tensor_hybrid_depthwise_writes_a_scale_per_channel_and_runs_like_litert():
    """LiteRT's hybrid depthwise kernel reads one scale per output channel (a one-scale array is read past its
    end: wrong outputs, 40/40 mismatched on vww); per-tensor dynamic_int8 writes the one scale for each channel."""
    m = eq.load_file(FIX / "digits_resnet.tflite")
    q = eq.save(quantize(m, Recipe.dynamic_int8(per_channel=False)))
    qm = eq.load(q)
    dw = next(op for op in qm.main.operators if qm.op_name(op) == "DEPTHWISE_CONV_2D")
    t = qm.main.tensors[dw.inputs[1]]
    assert t.type == eq.dtypes.INT8 and len(t.quantization.scale) == t.shape[3] > 1
    assert len(set(t.quantization.scale.tolist())) == 1 and t.quantization.quantized_dimension == 3
    x = np.load(FIX / "digits_split.npz")["x_test"][:40]
    # float ops after the hybrid ones (softmax) may differ in the last bits: agreement as `edgequant verify` judges
    np.testing.assert_allclose(eq.Interpreter(q).run([x])[0], _litert_ref(q, x), rtol=1e-5, atol=1e-7)


def test_dynamic_int8_stores_a_grouped_convolution_weight_only():
    """A grouped CONV_2D has no hybrid kernel in edgequant, and LiteRT's needs per-channel scales: dynamic_int8
    gives it int8 weights with a DEQUANTIZE (as weight_only_int8), per channel and per tensor, and the file runs
    in LiteRT's reference kernels as in edgequant's interpreter."""
    from test_kernel_errors import _grouped_conv

    float_model = eq.load(_grouped_conv(6))
    x = np.random.default_rng(0).uniform(0, 1, (4, 5, 5, 4)).astype(np.float32)
    for per_channel in (True, False):
        q, rep = quantize_with_report(float_model, Recipe.dynamic_int8(per_channel=per_channel))
        assert rep.quantized_ops == ["0 CONV_2D (grouped: no hybrid kernel, its int8 weights are dequantized at load)"]
        blob = eq.save(q)
        names = [q.op_name(op) for op in q.main.operators]
        assert names == ["DEQUANTIZE", "CONV_2D"]
        np.testing.assert_allclose(eq.Interpreter(blob).run([x])[0], _litert_ref(blob, x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("mode", ["dynamic_int8", "weight_only_int8", "int8"])
def test_non_finite_weights_are_refused_naming_the_tensor(mode):
    m = eq.load_file(FIX / "digits_cnn.tflite")
    fc = next(op for op in m.main.operators if m.op_name(op) == "FULLY_CONNECTED")
    t = m.main.tensors[fc.inputs[1]]
    w = t.numpy().copy()
    w.flat[[3, 7]] = [np.nan, np.inf]
    m.buffers[t.buffer] = eq.graph.Buffer(data=np.frombuffer(w.tobytes(), np.uint8))
    m = eq.load(eq.save(m.bind()))
    calib = np.load(FIX / "digits_split.npz")["x_calib"][:8] if mode == "int8" else None
    with pytest.raises(eq.EdgequantError, match=rf"FULLY_CONNECTED weight tensor {fc.inputs[1]} '.+' holds 2 NaN "
                                                  r"or Inf values") as e:
        quantize(m, Recipe.preset(mode), calib)
    assert "\n" not in str(e.value)
