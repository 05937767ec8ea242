"""`edgequant verify`: our interpreter against LiteRT's reference kernels and tflite-micro, in one command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MODELS, need_shared

import edgequant as eq
from edgequant.analysis.crosscheck import crosscheck, random_inputs

pytest.importorskip("ai_edge_litert", reason="needs ai-edge-litert (pip install 'edgequant[litert]')")
pytest.importorskip("tflite_micro", reason="needs tflite-micro (pip install 'edgequant[micro]')")

DATA = Path(eq.__file__).parent / "data"


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory):
    fm = eq.load_file(DATA / "digits_cnn.tflite")
    x = np.load(DATA / "digits_test.npz")["x"]
    path = tmp_path_factory.mktemp("m") / "digits_int8.tflite"
    eq.save_file(eq.quantize(fm, eq.Recipe.int8(), calibration_data=x[:100]), path)
    return path


def _verify(*args):
    return subprocess.run([sys.executable, "-m", "edgequant", "verify", *args], capture_output=True, text=True,
                          timeout=300, check=False)


def test_quantized_model_agrees_bit_for_bit_with_both_runtimes(int8_model):
    r = _verify(str(int8_model), "-n", "12", "--json")
    assert r.returncode == 0, r.stderr
    checks = json.loads(r.stdout)
    assert {c["runtime"] for c in checks} == {"LiteRT BUILTIN_REF", "tflite-micro"}
    for c in checks:
        assert c["exact"] and c["mismatched"] == 0 and c["total"] == 12 * 10 and c["dtype"] == "int8"


def test_a_difference_is_found_and_counted(int8_model, monkeypatch):
    from edgequant import interpreter

    real_run = interpreter.Interpreter.run

    def off_by_one(self, inputs, **kw):
        outs = real_run(self, inputs, **kw)
        return [np.where(np.arange(o.size).reshape(o.shape) % 7 == 0, o ^ 1, o).astype(o.dtype) for o in outs]

    monkeypatch.setattr(interpreter.Interpreter, "run", off_by_one)
    m = eq.load_file(int8_model)
    checks = crosscheck(m, random_inputs(m, 7), ("litert",))
    assert len(checks) == 1 and not checks[0].exact
    assert checks[0].mismatched == (7 * 10 + 6) // 7 and checks[0].max_abs_diff == 1


def test_status_names_each_run_in_order_and_stays_off_a_log(int8_model):
    m = eq.load_file(int8_model)
    said = []
    crosscheck(m, random_inputs(m, 3), ("litert", "tflm"), status=said.append)
    assert said == ["edgequant's interpreter as LiteRT BUILTIN_REF, 3 samples", "LiteRT BUILTIN_REF, 3 samples",
                    "edgequant's interpreter as tflite-micro, 3 samples", "tflite-micro, 3 samples"]
    r = _verify(str(int8_model), "-n", "2")  # stderr is a pipe: no status line in it
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_a_runtime_that_refuses_or_crashes_is_a_note_not_a_crash():
    path = need_shared(MODELS / "tflm_person_detect_int8.tflite")  # LiteRT refuses it; tflite-micro runs it
    r = _verify(str(path), "-n", "2", "--json")
    assert r.returncode == 0, r.stderr
    by = {c["runtime"]: c for c in json.loads(r.stdout)}
    assert "quantized_dimension" in by["LiteRT BUILTIN_REF"]["error"]
    assert by["tflite-micro"]["exact"]
    path = need_shared(MODELS / "tflm_keyword_scrambled_8bit.tflite")  # corrupts LiteRT 2.3.0's heap
    r = _verify(str(path), "-n", "3", "--runtime", "litert", "--json")
    assert r.returncode == 2 and r.stderr.startswith("error: no comparison could be made")
    assert json.loads(r.stdout)[0]["error"] == "LiteRT BUILTIN_REF crashed on this model"


@pytest.fixture(scope="module")
def int16x8_model(tmp_path_factory):
    """The int16x8 model `make demo` writes: float io, per-channel weights, SHAPE/STRIDED_SLICE/PACK before RESHAPE."""
    fm = eq.load_file(DATA / "digits_cnn.tflite")
    x = np.load(DATA / "digits_test.npz")["x"]
    path = tmp_path_factory.mktemp("m") / "digits_int16x8.tflite"
    eq.save_file(eq.quantize(fm, eq.Recipe.int16x8(io="float"), calibration_data=x[:100]), path)
    return path


def test_the_int16x8_demo_model_agrees_with_both_runtimes(int16x8_model):
    """Its per-channel 16x8 FULLY_CONNECTED: tflite-micro runs it (one Q15 multiplier per channel), and so does
    our target="tflm" (it used to refuse, and verify said so in the tflite-micro row)."""
    r = _verify(str(int16x8_model), "-n", "4", "--json")
    assert r.returncode == 0, r.stderr
    by = {c["runtime"]: c for c in json.loads(r.stdout)}
    assert by["LiteRT BUILTIN_REF"]["exact"] and by["LiteRT BUILTIN_REF"]["total"] == 4 * 10
    assert by["tflite-micro"]["exact"] and not by["tflite-micro"]["error"], by["tflite-micro"]


def test_only_a_runtime_edgequant_cannot_model_exits_2(int8_model, monkeypatch, capsys):
    from edgequant import interpreter
    from edgequant.cli import main
    from edgequant.errors import UnsupportedError

    real_init = interpreter.Interpreter.__init__

    def refuse_tflm(self, model, target="litert"):
        if target == "tflm":
            raise UnsupportedError("subgraph 0 op 1 (CONV_2D; inputs 'a', 'b'; outputs 'c'): no tflm path")
        real_init(self, model, target)

    monkeypatch.setattr(interpreter.Interpreter, "__init__", refuse_tflm)
    assert main(["verify", str(int8_model), "-n", "2", "--json"]) == 0  # LiteRT's row ran and agrees
    by = {c["runtime"]: c for c in json.loads(capsys.readouterr().out)}
    assert by["LiteRT BUILTIN_REF"]["exact"]
    assert by["tflite-micro"]["error"] == "edgequant cannot model tflite-micro here: op 1 CONV_2D: no tflm path"
    assert main(["verify", str(int8_model), "-n", "2", "--runtime", "tflm"]) == 2
    out, err = capsys.readouterr()
    assert "edgequant cannot model tflite-micro here" in out and err.startswith("error: no comparison could be made")


def test_help_states_the_exit_codes():
    r = _verify("--help")
    assert r.returncode == 0 and "exit status: 0 when every comparison made agrees" in " ".join(r.stdout.split())


def test_data_in_the_inputs_integer_dtype_is_used_as_is_and_float_data_is_quantized(int8_model, tmp_path):
    from edgequant.cli.verify import _inputs

    m = eq.load_file(int8_model)
    t = m.main.tensors[m.main.inputs[0]]
    assert t.dtype == np.int8
    rng = np.random.default_rng(3)
    xi = rng.integers(-128, 128, (5, *t.shape[1:])).astype(np.int8)
    np.save(tmp_path / "xi.npy", xi)
    np.testing.assert_array_equal(_inputs(tmp_path / "xi.npy", m, 5)[0], xi)  # not squashed to -128/127
    scale, zp = float(t.quantization.scale[0]), int(t.quantization.zero_point[0])
    xf = ((xi.astype(np.float32) - zp) * np.float32(scale)).astype(np.float32)  # dequantized: quantizes back to xi
    np.save(tmp_path / "xf.npy", xf)
    got = _inputs(tmp_path / "xf.npy", m, 5)[0]
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, xi)


def test_data_of_another_dtype_is_a_one_line_error(int8_model, tmp_path):
    np.save(tmp_path / "x64.npy", np.zeros((3, 8, 8, 1), np.int64))
    r = _verify(str(int8_model), "--data", str(tmp_path / "x64.npy"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "is int8; the data is int64" in r.stderr


def _digits(recipe, tmp_path, name):
    fm = eq.load_file(DATA / "digits_cnn.tflite")
    x = np.load(DATA / "digits_test.npz")["x"][:50]
    path = tmp_path / name
    eq.save_file(eq.quantize(fm, recipe, calibration_data=x), path)
    return path


def test_the_tflite_micro_row_carries_the_mcu_lint_error(tmp_path, int8_model):
    # per-channel DEQUANTIZE: tflite-micro uses channel 0's scale for all; our target="tflm" computes the same
    # (so the row agrees), and the note says the device's result is not the model's
    wo = _digits(eq.Recipe.weight_only_int8(), tmp_path, "wo.tflite")
    r = _verify(str(wo), "-n", "3", "--json")
    assert r.returncode == 0, r.stderr
    by = {c["runtime"]: c for c in json.loads(r.stdout)}
    assert by["LiteRT BUILTIN_REF"]["exact"] and not by["LiteRT BUILTIN_REF"]["note"]
    assert by["tflite-micro"]["exact"] and not by["tflite-micro"]["error"]
    assert by["tflite-micro"]["note"].startswith("mcu lint: per-channel-dequantize at 2 ops (op 0 DEQUANTIZE, ")
    dyn = _digits(eq.Recipe.dynamic_int8(), tmp_path, "dyn.tflite")  # tflm refuses it: the note says why
    r = _verify(str(dyn), "-n", "2")
    assert r.returncode == 0, r.stderr
    row = next(ln for ln in r.stdout.splitlines() if ln.lstrip().startswith("tflite-micro"))
    assert "cannot run it" in row and "mcu lint: hybrid-op (below)" in row
    warning = r.stdout.strip().splitlines()[-1]
    assert warning == ("warning: on tflite-micro this model does not compute what LiteRT computes, or does not run: "
                       "mcu lint: hybrid-op at 2 ops (op 0 CONV_2D, op 6 FULLY_CONNECTED): " + warning.split("): ", 1)[1])
    r = _verify(str(int8_model), "-n", "2", "--json")  # nothing to explain
    assert all(c["note"] == "" for c in json.loads(r.stdout))


def test_a_known_litert_fault_is_named_in_its_row(tmp_path):
    """verify printed "NO 2047887/2048000" for LiteRT on the per-channel BATCH_MATMUL model with no word that
    LiteRT 2.3.0's reference kernel outputs zeros there (pinned in test_models.py)."""
    from edgequant.analysis.crosscheck import _litert_note

    path = MODELS / "litert_static_w8_a16_attn_vec_einsum.tflite"
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/models)")
    assert _litert_note(eq.load_file(path)).startswith("LiteRT 2.3.0 bug at op 1 BATCH_MATMUL: with a per-channel")
    assert _litert_note(eq.load_file(Path(eq.__file__).parent / "data" / "digits_cnn.tflite")) == ""


def test_an_output_shape_input_gets_the_ops_static_shape_not_random_values():
    """seanet's TRANSPOSE_CONV takes its output_shape as a model input: random int32 there made LiteRT fail
    ("number of elements overflowed") while tflite-micro agreed, a comparison of nothing."""
    path = MODELS / "tflm_seanet_transpose_conv0_16x8.tflite"
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/models)")
    m = eq.load_file(path)
    sg = m.main
    tconv = next(op for op in sg.operators if m.op_name(op) == "TRANSPOSE_CONV")
    k = list(sg.inputs).index(tconv.inputs[0])
    xs = random_inputs(m, 3)
    want = list(sg.tensors[tconv.outputs[0]].shape)
    assert xs[k].reshape(3, -1).tolist() == [want] * 3
    pytest.importorskip("ai_edge_litert")
    checks = crosscheck(m, xs, ("litert",))
    assert checks and all(c.exact for c in checks), checks


def test_status_line_redraws_in_place_on_a_terminal_and_clears_itself():
    import io

    from edgequant.cli.verify import _StatusLine

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    line = _StatusLine(term)
    line("tflite-micro, 5 samples")
    line.clear()
    shown = term.getvalue()
    assert shown.startswith("\r\033[Krunning tflite-micro, 5 samples (") and shown.endswith(" s so far)\r\033[K")


def test_data_for_a_fixed_batch_model_counts_runs_not_rows(tmp_path):
    """-n counts samples (runs of the model's batch of 6 rows) with --data as without it: 7 runs of 42 rows ran
    as '20 rows is not a multiple of the model's batch 6' before."""
    tf = pytest.importorskip("tensorflow")
    import contextlib
    import io

    inp = tf.keras.Input((4,), batch_size=6)
    m = tf.keras.Model(inp, tf.keras.layers.Dense(3, bias_initializer="ones")(inp))
    with contextlib.redirect_stdout(io.StringIO()):
        (tmp_path / "fb6.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(m).convert())
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((42, 4)).astype(np.float32))
    r = _verify(str(tmp_path / "fb6.tflite"), "--data", str(tmp_path / "x.npy"), "--json")
    assert r.returncode == 0, r.stderr
    assert {c["samples"] for c in json.loads(r.stdout)} == {7}
    np.save(tmp_path / "y.npy", np.zeros((43, 4), np.float32))
    r = _verify(str(tmp_path / "fb6.tflite"), "--data", str(tmp_path / "y.npy"))
    assert r.returncode == 2 and r.stderr.strip().endswith("has 43 rows, not a multiple of the model's fixed batch of 6")
