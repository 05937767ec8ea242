"""Hybrid (int8 weights, float activations) convolutions stay bit-identical to LiteRT's reference kernels
layer by layer, not only within the float tolerance of tests/test_models.py: every intermediate of the
MLPerf Tiny KWS hybrid model through batched run(), against BUILTIN_REF with all tensors preserved.
Plus the rounding of LiteRT's input quantization, ties included, against BUILTIN_REF for every hybrid op."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from edgequant import qmath
from edgequant.interpreter import Interpreter
from edgequant.kernels._hybrid import round_rows_like_litert

KWS = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf_tiny_kws_dscnn_float32.tflite"


def test_rounding_is_half_away_but_for_the_vector_loops_one_exception():
    """LiteRT's Neon/SSE loop rounds v + copysign(0.5, v) toward zero in float32: half away from zero, except
    v = +-(0.5 - 2**-25), where the sum rounds up to +-1.0. The scalar tail (n % 8 values) is exactly half-away."""
    ties = np.float32(0.5) + np.arange(-300, 300, dtype=np.float32)
    odd = np.float32(0.5) - np.float32(2.0**-25)
    for v in (ties, np.nextafter(ties, np.float32(0)), np.nextafter(ties, np.float32(np.inf)),
              (np.random.default_rng(0).standard_normal(600) * 60).astype(np.float32)):
        v = v[np.abs(v) != odd]  # the exception, checked below
        for width in (v.size, v.size - 5):  # no tail, a 5-value tail
            rows = v[:width].reshape(1, -1)
            np.testing.assert_array_equal(round_rows_like_litert(rows.copy()), qmath.round_half_away(rows))
            if np.all(rows >= 0):
                np.testing.assert_array_equal(round_rows_like_litert(rows.copy(), True), qmath.round_half_away(rows))
    row = np.array([[odd, -odd, 1, 2, 3, 4, 5, 6, odd, -odd]], np.float32)  # 8 in the vector loop, 2 in the tail
    np.testing.assert_array_equal(round_rows_like_litert(row.copy()), [[1, -1, 1, 2, 3, 4, 5, 6, 0, 0]])
    np.testing.assert_array_equal(round_rows_like_litert(np.abs(row), True), [[1, 1, 1, 2, 3, 4, 5, 6, 0, 0]])


def _hybrid_models():
    """Float Keras layers, converted by TFLiteConverter, then made hybrid by edgequant's dynamic_int8: an
    FC with asymmetric input quantization, the same FC symmetric, and per-channel (asymmetric) CONV_2D and
    DEPTHWISE_CONV_2D. Input sizes are not multiples of 8, so both LiteRT's vector loop and tail run."""
    tf = pytest.importorskip("tensorflow")
    import contextlib
    import io

    import edgequant as eq
    from edgequant.quantizer import Recipe, quantize

    rng = np.random.default_rng(3)
    layers = {"fc": ((19,), tf.keras.layers.Dense(7)), "conv": ((5, 5, 3), tf.keras.layers.Conv2D(4, 3)),
              "depthwise": ((5, 5, 3), tf.keras.layers.DepthwiseConv2D(3, depth_multiplier=2))}
    out = {}
    for name, (shape, layer) in layers.items():
        inp = tf.keras.Input(shape)
        m = tf.keras.Model(inp, layer(inp))
        layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in layer.get_weights()])
        with contextlib.redirect_stdout(io.StringIO()):
            blob = tf.lite.TFLiteConverter.from_keras_model(m).convert()
        q = quantize(eq.load(blob), Recipe.dynamic_int8(), None)
        out[name] = (shape, eq.save(q))
        if name == "fc":
            q.main.operators[0].options.asymmetric_quantize_inputs = False
            out["fc_symmetric"] = (shape, eq.save(q))
    return out


@pytest.mark.parametrize("name", ["fc", "fc_symmetric", "conv", "depthwise"])
def test_hybrid_ops_round_ties_like_litert_reference(name):
    """Inputs whose quantized values are exact ties k + 0.5 (a row range of 255 asymmetric, 127 symmetric, so
    the inverse scale is 1) and +-(0.5 - 2**-25), in the vector loop and in the tail: bit for bit with
    BUILTIN_REF. (Adding the zero point before rounding, as LiteRT's portable C++ does, fails here.)"""
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    shape, blob = _hybrid_models()[name]
    n = int(np.prod(shape))
    rng = np.random.default_rng(5)
    lo, hi = (-127, 127) if name == "fc_symmetric" else (-100, 155)
    x = rng.integers(lo, hi, (40, n)).astype(np.float32) + rng.choice(np.float32([0, 0.5]), (40, n))
    x[:, 0], x[:, 1] = lo, hi  # the row range that makes the inverse scale 1
    odd = np.float32(0.5) - np.float32(2.0**-25)
    x[:10, 2], x[10:20, 3], x[:10, -1], x[10:20, -2] = odd, -odd, odd, -odd
    x = x.reshape((40,) + shape)
    it = litert.Interpreter(model_content=blob, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    d, o = it.get_input_details()[0], it.get_output_details()[0]
    ref = []
    for k in range(len(x)):
        it.set_tensor(d["index"], x[k:k + 1])
        it.invoke()
        ref.append(it.get_tensor(o["index"]))
    np.testing.assert_array_equal(Interpreter(blob).run([x])[0], np.concatenate(ref))


def test_kws_hybrid_layers_match_litert_reference_bit_for_bit():
    if not KWS.is_file():
        pytest.skip(f"{KWS} not available")
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    model = KWS.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = litert.Interpreter(model_content=model, experimental_preserve_all_tensors=True,
                                 experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    ref.allocate_tensors()
    ours = Interpreter(model)
    plan = ours._plan(0)
    hybrid = [s for s in plan.steps if getattr(s.params, "kind", "") == "hybrid"]
    assert len(hybrid) == 5  # the manifest: every CONV_2D of this model has int8 weights
    # the first reads the model input; the others read RELU outputs and take the nonnegative fast path
    assert [s.params.input_nonnegative for s in hybrid] == [False, True, True, True, True]
    d = ref.get_input_details()[0]
    xs = np.random.default_rng(7).standard_normal([150] + list(d["shape"][1:])).astype(np.float32)
    xs[3] = 0  # all-zero sample: scaling factor 1, quantized zeros
    xs[5] *= np.float32(1e-6)
    # range exactly 127: the first conv quantizes with 127 / range == 1, so every other value is a tie k + 0.5
    xs[9] = np.random.default_rng(8).integers(-127, 127, xs[9].shape) + np.float32(0.5)
    xs[9].flat[0] = 127
    _, inter = ours.run([xs], keep_intermediates=True)  # 150 samples: several chunks
    for k in range(len(xs)):
        ref.set_tensor(d["index"], xs[k:k + 1])
        ref.invoke()
        for s in hybrid:
            i = s.outputs[0]
            np.testing.assert_array_equal(inter[i][k:k + 1], ref.get_tensor(i), err_msg=f"op {s.index}, sample {k}")
