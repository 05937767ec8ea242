"""Integer (8x8_16) UNIDIRECTIONAL_SEQUENCE_LSTM against LiteRT BUILTIN_REF, bit for bit.

Data: tests/data/lstm/*.npz written by tools/make_lstm_goldens.py (float LSTMs quantized by TensorFlow's
calibrator; outputs from LiteRT's reference kernels, never from edgequant).
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
         "lstm8_proj3_ln"]


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


def test_tflm_target_refuses():
    d = load("lstm8")
    it = Interpreter(d["model"].tobytes(), target="tflm")
    with pytest.raises(UnsupportedError, match="UNIDIRECTIONAL_SEQUENCE_LSTM"):
        it.allocate_tensors()
        it.run([d["x"][0]])


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
