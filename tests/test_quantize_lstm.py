"""int8 quantization of UNIDIRECTIONAL_SEQUENCE_LSTM by edgequant's own quantizer: the LSTM itself becomes the
"8x8_16" LSTM (no QUANTIZE/DEQUANTIZE around it), LiteRT's reference kernels and tflite-micro run the result, our
Interpreter matches each bit for bit (targets "litert" and "tflm"), and the output stays close to the float model.

Models: tflite-micro's mnist_lstm (../shared, rows of MNIST test images as time steps) and small float LSTMs
written by ``build_float`` of tools/make_lstm_goldens.py (random seeded weights; edgequant's writer, no TensorFlow).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

import edgequant as eq
from edgequant import dtypes
from edgequant.interpreter import Interpreter
from edgequant.quantizer import Recipe, calibrate, quantize, quantize_with_report
from edgequant.quantizer.lstm import LstmStats, cell_scale

litert = pytest.importorskip("ai_edge_litert.interpreter")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MNIST_LSTM = SHARED / "models" / "tflm_mnist_lstm_float.tflite"
MNIST_IMAGES = SHARED / "data" / "t10k-images-idx3-ubyte.gz"
LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"
T_STEPS, FEATURES = 6, 4


def lstm_op(m: eq.Model):
    (op,) = [op for op in m.main.operators if m.op_name(op) == LSTM]
    return op


def assert_int8_lstm(q: eq.Model, rep) -> None:
    """The LSTM is the 8x8_16 one, listed as quantized, and no op converts to or from float anywhere."""
    sg = q.main
    op = lstm_op(q)
    names = [q.op_name(o) for o in sg.operators]
    assert "QUANTIZE" not in names and "DEQUANTIZE" not in names, names
    assert f"{names.index(LSTM)} {LSTM}" in rep.quantized_ops
    t = sg.tensors
    assert t[op.inputs[0]].type == dtypes.INT8 and t[op.outputs[0]].type == dtypes.INT8
    for pos in range(1, 9):
        if op.inputs[pos] >= 0:
            w = t[op.inputs[pos]]
            assert w.type == dtypes.INT8 and w.quantization.zero_point[0] == 0 and w.numpy().min() >= -127
    for pos in range(12, 16):
        if op.inputs[pos] >= 0:
            assert t[op.inputs[pos]].type == dtypes.INT32
    h, c, y = t[op.inputs[18]], t[op.inputs[19]], t[op.outputs[0]]
    assert h.is_variable and c.is_variable and h.type == dtypes.INT8 and c.type == dtypes.INT16
    assert (h.quantization.scale[0], h.quantization.zero_point[0]) == (y.quantization.scale[0],
                                                                       y.quantization.zero_point[0])
    log2 = np.log2(float(c.quantization.scale[0]))
    assert log2 == round(log2) and c.quantization.zero_point[0] == 0
    inter = [t[i] for i in op.intermediates]
    gates = dtypes.INT16 if op.inputs[21] >= 0 else dtypes.FLOAT32  # layer norm reads the gates' scales
    assert len(inter) == 5 and [x.type for x in inter] == [gates] * 4 + [dtypes.INT8]
    if op.inputs[16] < 0:  # no projection: the kernel writes the output with intermediate 4's parameters
        assert inter[4].quantization.scale[0] == y.quantization.scale[0]
        assert inter[4].quantization.zero_point[0] == y.quantization.zero_point[0]
    assert q.operator_codes[op.opcode_index].version == 2


def quantize_input(q: eq.Model, x: np.ndarray) -> np.ndarray:
    t = q.main.tensors[q.main.inputs[0]]
    s, z = float(t.quantization.scale[0]), int(t.quantization.zero_point[0])
    return np.clip(np.round(x / s) + z, -128, 127).astype(np.int8)


def run_litert(blob: bytes, xs: np.ndarray, reset: bool = False) -> np.ndarray:
    """BUILTIN_REF, one interpreter, one invoke per sample: the LSTM state carries over unless ``reset``."""
    it = litert.Interpreter(model_content=blob, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    ys = []
    for x in xs:
        if reset:
            it.reset_all_variables()
        it.set_tensor(i, x)
        it.invoke()
        ys.append(it.get_tensor(o).copy())
    return np.stack(ys)


def run_tflm(blob: bytes, xs: np.ndarray) -> np.ndarray:
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    it = runtime.Interpreter.from_bytes(blob)
    ys = []
    for x in xs:
        it.set_input(x, 0)
        it.invoke()
        ys.append(it.get_output(0).copy())
    return np.stack(ys)


def run_ours(blob: bytes, xs: np.ndarray, target: str) -> np.ndarray:
    """Our Interpreter over all samples in one run() (state carried like repeated invokes)."""
    (ys,) = Interpreter(blob, target=target).run([xs.reshape(-1, *xs.shape[2:])])
    return ys


def dequantize_output(q: eq.Model, y: np.ndarray) -> np.ndarray:
    t = q.main.tensors[q.main.outputs[0]]
    return (y.astype(np.float32) - int(t.quantization.zero_point[0])) * float(t.quantization.scale[0])


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((ref - got).astype(np.float64) ** 2)))


# -- mnist_lstm (tflite-micro's example model) --------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist():
    if not MNIST_LSTM.exists() or not MNIST_IMAGES.exists():
        pytest.skip(f"{SHARED} (mnist_lstm and the MNIST test images) is absent")
    with gzip.open(MNIST_IMAGES) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28).astype(np.float32) / 255
    m = eq.load_file(MNIST_LSTM)
    q, rep = quantize_with_report(m, Recipe.int8(), images[:200])  # calibration: the first 200 images
    return m, q, rep, eq.save(q), images[1000:1300]  # held out


def test_mnist_lstm_is_int8(mnist):
    _, q, rep, _, _ = mnist
    assert_int8_lstm(q, rep)
    assert not rep.float_ops


def test_mnist_lstm_litert_and_ours_bit_exact(mnist):
    _, q, _, blob, held = mnist
    xs = quantize_input(q, held[:40])[:, None]  # (40, 1, 28, 28)
    ref = run_litert(blob, xs)
    np.testing.assert_array_equal(run_ours(blob, xs, "litert").reshape(ref.shape), ref)


def test_mnist_lstm_tflm_and_ours_bit_exact(mnist):
    _, q, _, blob, held = mnist
    xs = quantize_input(q, held[:40])[:, None]
    ref = run_tflm(blob, xs)
    np.testing.assert_array_equal(run_ours(blob, xs, "tflm").reshape(ref.shape), ref)
    # micro's integer LSTM is other arithmetic than LiteRT's: the comparison above is not the same one twice
    assert not np.array_equal(ref, run_litert(blob, xs))


def test_mnist_lstm_accuracy_close_to_float(mnist):
    """Each image on its own (state reset), probabilities dequantized: SQNR against the float model in LiteRT
    (42.2 dB measured on images 1000-2999, TFLite's own quantizer 41.7 dB) and the same predicted digit."""
    m, q, _, blob, held = mnist
    f = run_litert(eq.save(m), held[:, None], reset=True)[:, 0]
    y = dequantize_output(q, run_litert(blob, quantize_input(q, held)[:, None], reset=True)[:, 0])
    assert sqnr_db(f, y) > 35
    assert np.mean(f.argmax(-1) == y.argmax(-1)) >= 0.99


def test_mnist_lstm_cell_scale_covers_the_calibrated_cell(mnist):
    """The cell state's power-of-two scale is the smallest that holds the float cell of the calibration run
    (max |c| <= 8 here, cell_clip 10): 8 / 32768."""
    _, q, _, _, _ = mnist
    c = q.main.tensors[lstm_op(q).inputs[19]]
    assert float(c.quantization.scale[0]) == 2.0 ** -12
    assert cell_scale(7.9) == 2.0 ** -12 and cell_scale(8.0) == 2.0 ** -12 and cell_scale(8.01) == 2.0 ** -11


# -- small LSTMs written by tools/make_lstm_goldens.py's build_float ------------------------------------------

CASES = {
    "plain": {"units": 8, "seed": 1},
    "time_major_cellclip": {"units": 6, "seed": 11, "time_major": True, "cell_clip": 0.8},
    "cifg": {"units": 6, "seed": 3, "cifg": True, "cell_clip": 3.0},
    "peephole": {"units": 6, "seed": 6, "peephole": True},
    "projection": {"units": 8, "seed": 8, "proj": 3, "proj_clip": 0.4},
    "layer_norm": {"units": 5, "seed": 2, "layer_norm": True},
    "peephole_layer_norm": {"units": 6, "seed": 5, "peephole": True, "layer_norm": True},
    "projection_layer_norm": {"units": 8, "seed": 7, "proj": 3, "layer_norm": True, "proj_clip": 0.4},
}
TFLM_CASES = ("plain", "time_major_cellclip")  # micro runs the plain LSTM only


@pytest.fixture(scope="module")
def build_float():
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_lstm_goldens
    finally:
        sys.path.remove(str(ROOT / "tools"))
    return make_lstm_goldens.build_float


_small: dict = {}


def small(build_float, name: str):
    """(float model, quantized model, report, held-out float inputs), built once per case."""
    if name not in _small:
        kw = CASES[name]
        m = eq.load(build_float(**kw))
        shape = [T_STEPS, 1, FEATURES] if kw.get("time_major") else [1, T_STEPS, FEATURES]
        rng = np.random.default_rng(kw["seed"])
        calib = rng.uniform(-1, 1, (64, *shape)).astype(np.float32)
        held = rng.uniform(-1, 1, (12, *shape)).astype(np.float32)
        # data.rebatch regroups rows, not invocations: a multiple of the time-major input's 6 rows per call
        q, rep = quantize_with_report(m, Recipe.int8(batch_size=8 * shape[0]), list(calib))
        _small[name] = (m, q, rep, held)
    return _small[name]


@pytest.mark.parametrize("name", CASES)
def test_small_lstm_is_int8_and_bit_exact_in_litert(build_float, name):
    _, q, rep, held = small(build_float, name)
    assert_int8_lstm(q, rep)
    blob = eq.save(q)
    xs = quantize_input(q, held)
    ref = run_litert(blob, xs)
    np.testing.assert_array_equal(run_ours(blob, xs, "litert").reshape(ref.shape), ref)


@pytest.mark.parametrize("name", TFLM_CASES)
def test_small_lstm_bit_exact_in_tflite_micro(build_float, name):
    _, q, _, held = small(build_float, name)
    blob = eq.save(q)
    xs = quantize_input(q, held)
    ref = run_tflm(blob, xs)
    np.testing.assert_array_equal(run_ours(blob, xs, "tflm").reshape(ref.shape), ref)


@pytest.mark.parametrize("name", CASES)
def test_small_lstm_close_to_float(build_float, name):
    """State carried over the held-out samples in both models, as in the calibration run."""
    m, q, _, held = small(build_float, name)
    f = run_litert(eq.save(m), held)
    y = dequantize_output(q, run_litert(eq.save(q), quantize_input(q, held)))
    assert sqnr_db(f, y) > 30, name  # measured 32.8 (projection + layer norm) to 39.9 dB (CIFG)


def test_stats_rerun_the_float_lstm_of_the_calibration_run(build_float):
    """LstmStats re-runs the float LSTM in numpy, state carried from sample to sample: without a projection its
    hidden state is the output, so its range is the range the interpreter's calibration run observed for y."""
    m = eq.load(build_float(units=8, seed=1))
    x = np.random.default_rng(5).uniform(-1, 1, (40, T_STEPS, FEATURES)).astype(np.float32)
    stats = LstmStats(m)
    r = calibrate(m, x, visit=stats.update)
    y = lstm_op(m).outputs[0]
    tr = stats.get(y)
    assert tr.steps == 40 * T_STEPS
    np.testing.assert_allclose(tr.hidden, [min(r.ranges[y][0], 0), max(r.ranges[y][1], 0)], rtol=1e-6)
    assert 0 < tr.cell_absmax < 2


@pytest.mark.parametrize("golden", ["lstm5_ln", "lstm6_peephole_ln", "lstm8_proj3_ln"])
def test_gate_ranges_are_those_tflite_calibrates(build_float, golden):
    """tests/data/lstm holds these float LSTMs as TensorFlow's quantizer wrote them after calibrating on 16 samples
    of default_rng(seed).uniform(-1, 1) (tools/make_lstm_goldens.py): our numpy re-run of the same samples finds
    its layer-norm gate scales (intermediates 0-3), its cell scale and its layer-norm coefficients' scales."""
    import make_lstm_goldens as G

    kw = G.CASES[golden]
    shape = [T_STEPS, 1, FEATURES] if kw.get("time_major") else [1, T_STEPS, FEATURES]
    rng = np.random.default_rng(kw["seed"])
    samples = [rng.uniform(-1, 1, shape).astype(np.float32) for _ in range(16)]  # as make_lstm_goldens.quantize
    m = eq.load(build_float(**kw))
    q, _ = quantize_with_report(m, Recipe.int8(), samples)
    theirs = eq.load(np.load(ROOT / "tests" / "data" / "lstm" / f"{golden}.npz")["model"].tobytes())
    ours_op, their_op = lstm_op(q), lstm_op(theirs)

    def scale(model, i):
        return float(model.main.tensors[i].quantization.scale[0])

    for a, b in zip(ours_op.intermediates[:4], their_op.intermediates[:4]):
        assert scale(q, a) == pytest.approx(scale(theirs, b), rel=1e-6)
    for pos in (19, 20, 21, 22, 23):
        assert scale(q, ours_op.inputs[pos]) == pytest.approx(scale(theirs, their_op.inputs[pos]), rel=1e-6)


def test_layer_norm_with_cifg_stays_float_and_says_why(build_float):
    m = eq.load(build_float(units=5, seed=2, layer_norm=True, cifg=True))
    x = np.random.default_rng(0).uniform(-1, 1, (16, T_STEPS, FEATURES)).astype(np.float32)
    q, rep = quantize_with_report(m, Recipe.int8(), x)
    assert any(LSTM in s and "layer norm" in s for s in rep.float_ops), rep.float_ops
    assert q.main.tensors[lstm_op(q).inputs[0]].type == dtypes.FLOAT32


def test_int16x8_keeps_the_lstm_float(build_float):
    m = eq.load(build_float(units=8, seed=1))
    x = np.random.default_rng(0).uniform(-1, 1, (16, T_STEPS, FEATURES)).astype(np.float32)
    _, rep = quantize_with_report(m, Recipe.int16x8(), x)
    assert rep.float_ops == [f"0 {LSTM} (no int16 rule)"]


def test_reused_ranges_without_a_run_keep_the_lstm_float(build_float):
    """ranges= skips the calibration run, and with it the cell state measurement: the LSTM stays float."""
    m = eq.load(build_float(units=8, seed=1))
    x = np.random.default_rng(0).uniform(-1, 1, (16, T_STEPS, FEATURES)).astype(np.float32)
    with pytest.warns(UserWarning, match="no op was quantized"):
        q = quantize(m, Recipe.int8(), ranges=calibrate(m, x))
    assert q.main.tensors[lstm_op(q).inputs[0]].type == dtypes.FLOAT32
