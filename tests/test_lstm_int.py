"""Integer (8x8_16) UNIDIRECTIONAL_SEQUENCE_LSTM against LiteRT BUILTIN_REF (target "litert") and tflite-micro
(target "tflm"), bit for bit.

Data: tests/data/lstm/*.npz written by tools/make_lstm_goldens.py (float LSTMs quantized by TensorFlow's
calibrator; outputs from LiteRT's reference kernels and, for the plain LSTMs it runs, tflite-micro; never from
edgequant).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgequant.errors import UnsupportedError
from edgequant.interpreter import Interpreter
from edgequant.kernels import _fixedpoint as fp
from edgequant.kernels import _lstm_int as L

DATA = Path(__file__).resolve().parent / "data" / "lstm"
CASES = ["lstm8", "lstm5_ln", "lstm6_cifg_clip", "lstm4_time_major", "lstm6_peephole", "lstm6_peephole_ln", "lstm8_proj3",
         "lstm8_proj3_ln", "lstm8_cellclip", "lstm16_wide", "lstm6_time_major_cellclip"]
# tflite-micro runs only the plain LSTM; the files of these cases hold its outputs ("tflm")
TFLM_CASES = ["lstm8", "lstm4_time_major", "lstm8_cellclip", "lstm16_wide", "lstm6_time_major_cellclip"]
TFLM_REFUSED = [c for c in CASES if c not in TFLM_CASES]  # CIFG, peepholes, projection, layer norm


def load(name: str):
    path = DATA / f"{name}.npz"
    if not path.exists():
        pytest.skip(f"{path} is missing: run tools/make_lstm_goldens.py")
    return np.load(path)


def int8_states(it: Interpreter) -> list:
    return [t for t in it.model.subgraphs[0].tensors if t.is_variable and t.type_name == "int8"]


def set_states_to_zero_point(it: Interpreter) -> None:
    """LiteRT's ResetVariableTensor fills an int8 variable tensor with its zero point (int16: 0); our
    interpreter starts variables at 0, so the tests put LiteRT's initial state in by hand."""
    for t in int8_states(it):
        it.set_tensor(t.index, np.full(t.shape, t.quantization.zero_point[0], np.int8))


def fresh_interpreter(d) -> Interpreter:
    it = Interpreter(d["model"].tobytes())
    it.allocate_tensors()
    set_states_to_zero_point(it)
    return it


@pytest.mark.parametrize("name", CASES)
def test_each_sample_from_reset_state(name):
    d = load(name)
    it = fresh_interpreter(d)
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    outs = []
    for x in d["x"]:
        it.reset_all_variables()
        set_states_to_zero_point(it)
        it.set_tensor(i, x)
        it.invoke()
        outs.append(it.get_tensor(o))
    np.testing.assert_array_equal(np.stack(outs), d["ref_fresh"])


@pytest.mark.parametrize("name", CASES)
def test_repeated_invoke_carries_state(name):
    d = load(name)
    it = fresh_interpreter(d)
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    outs = []
    for x in d["x"]:
        it.set_tensor(i, x)
        it.invoke()
        outs.append(it.get_tensor(o))
    ys = np.stack(outs)
    np.testing.assert_array_equal(ys, d["ref"])
    # The carried state matters: from the second sample on, LiteRT's two runs differ.
    assert not np.array_equal(d["ref"][1:], d["ref_fresh"][1:])


@pytest.mark.parametrize("name", CASES)
def test_batched_run_matches_repeated_invokes(name):
    d = load(name)
    it = fresh_interpreter(d)
    xs = d["x"]
    (ys,) = it.run([xs.reshape(-1, *xs.shape[2:])])
    np.testing.assert_array_equal(ys.reshape(d["ref"].shape), d["ref"])


def test_fresh_interpreter_starts_like_litert():
    """Int8 variable tensors start at their zero point, as TFLite's ResetVariableTensor does."""
    d = load("lstm8")
    it = Interpreter(d["model"].tobytes())
    (ys,) = it.run([d["x"][:1].reshape(-1, *d["x"].shape[2:])])
    np.testing.assert_array_equal(ys.reshape(d["ref"][:1].shape), d["ref"][:1])


def run_tflm_target(d, batched: bool) -> np.ndarray:
    """target="tflm" from a fresh interpreter, state carried over the samples (as tools/make_lstm_goldens.py ran
    tflite-micro: one interpreter, one invoke per sample)."""
    it = Interpreter(d["model"].tobytes(), target="tflm")
    xs = d["x"]
    if batched:
        (ys,) = it.run([xs.reshape(-1, *xs.shape[2:])])
        return ys.reshape(d["tflm"].shape)
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    outs = []
    for x in xs:
        it.set_tensor(i, x)
        it.invoke()
        outs.append(it.get_tensor(o))
    return np.stack(outs)


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("name", TFLM_CASES)
def test_tflm_target_matches_tflite_micro(name, batched):
    d = load(name)
    assert "tflm" in d.files, f"{name}: no tflite-micro outputs stored; run tools/make_lstm_goldens.py {name}"
    np.testing.assert_array_equal(run_tflm_target(d, batched), d["tflm"])


def test_tflm_and_litert_semantics_differ_on_the_goldens():
    """The two targets are different arithmetic: on every micro case the runtimes disagree somewhere, so the
    test above could not pass with LiteRT's LSTM."""
    for name in TFLM_CASES:
        d = load(name)
        assert not np.array_equal(d["tflm"], d["ref"]), name


@pytest.mark.parametrize("name", TFLM_REFUSED)
def test_tflm_target_refuses_what_tflite_micro_refuses(name):
    """CIFG, peephole, projection and layer-norm LSTMs fail tflite-micro's Prepare (LstmTensors::
    ValidateTensorStatus); target "tflm" refuses them with UnsupportedError."""
    d = load(name)
    assert "tflm" not in d.files
    with pytest.raises(UnsupportedError, match="plain LSTM"):
        Interpreter(d["model"].tobytes(), target="tflm").allocate_tensors()
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    with pytest.raises(RuntimeError):
        it = runtime.Interpreter.from_bytes(d["model"].tobytes())
        it.set_input(d["x"][0], 0)
        it.invoke()


def test_generic_fixed_point_at_32_bits_equals_the_int32_port():
    """The width-generic gemmlowp port behind the int16 tables, run at 32 bits, against _fixedpoint."""
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 20000), [0, 1, -1, -(1 << 31), (1 << 31) - 1]])
    f = L._Fx(32)
    for int_bits in (0, 1, 3, 5, 6):
        np.testing.assert_array_equal(L._fx_logistic(f, a, int_bits), fp.logistic(a, int_bits))
        np.testing.assert_array_equal(L._fx_tanh(f, a, int_bits), fp.tanh(a, int_bits))


def test_int16_tables_are_sigmoid_and_tanh():
    x = np.arange(-32768, 32768)
    np.testing.assert_allclose(L.sigmoid_table() / 32768, 1 / (1 + np.exp(-x / 4096)), atol=3e-4)
    np.testing.assert_allclose(L.tanh_table(3) / 32768, np.tanh(x / 4096), atol=5e-4)
    np.testing.assert_allclose(L.tanh_table(0) / 32768, np.tanh(x / 32768), atol=5e-4)
