"""Per-layer error finds where a quantized model departs from its float original."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgequant as eq
from edgequant import quantization as Q
from edgequant.analysis.layer_error import compare_layers

DATA = Path(eq.__file__).parent / "data"


@pytest.fixture(scope="module")
def models():
    fm = eq.load_file(DATA / "digits_cnn.tflite")
    x = np.load(DATA / "digits_test.npz")["x"]
    qm = eq.quantize(fm, eq.Recipe.int8(io="float"), calibration_data=x[:100])
    return fm, qm, x[100:160]


def test_every_quantized_layer_is_close_and_the_output_row_matches_a_direct_measurement(models):
    fm, qm, x = models
    rows = compare_layers(fm, qm, [x])
    # with float io the last FULLY_CONNECTED feeds a DEQUANTIZE that carries the float output's name
    assert {r.op for r in rows} >= {"CONV_2D", "MAX_POOL_2D"}
    assert all(r.sqnr_db > 25 for r in rows), [(r.op, r.sqnr_db) for r in rows]
    out_name = qm.main.tensors[qm.main.outputs[0]].name
    direct = Q.sqnr_db(eq.Interpreter(fm).run([x])[0], eq.Interpreter(qm).run([x])[0])
    row = [r for r in rows if r.tensor == out_name]
    assert row and abs(row[0].sqnr_db - direct) < 1e-6


def test_a_broken_layer_shows_up_where_it_breaks(models):
    fm, qm, x = models
    broken = qm.clone()
    sg = broken.main
    conv = next(op for op in sg.operators if broken.op_name(op) == "CONV_2D")
    w = sg.tensors[conv.inputs[1]]
    w.quantization.scale = np.asarray(w.quantization.scale, np.float32) * 3  # wrong weight scales
    before = {r.tensor: r.sqnr_db for r in compare_layers(fm, qm, [x])}
    after = compare_layers(fm, broken, [x])
    first = after[0]
    assert first.op == "CONV_2D" and first.sqnr_db < before[first.tensor] - 10


def test_cli_compare(models, tmp_path):
    fm, qm, x = models
    eq.save_file(fm, tmp_path / "f.tflite")
    eq.save_file(qm, tmp_path / "q.tflite")
    np.savez(tmp_path / "x.npz", x=x)
    r = subprocess.run([sys.executable, "-m", "edgequant", "compare", str(tmp_path / "f.tflite"),
                        str(tmp_path / "q.tflite"), "--data", str(tmp_path / "x.npz"), "--json"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows and all(row["sqnr_db"] > 25 for row in rows)
    np.savez(tmp_path / "bad.npz", x=x[:, :4])
    r = subprocess.run([sys.executable, "-m", "edgequant", "compare", str(tmp_path / "f.tflite"),
                        str(tmp_path / "q.tflite"), "--data", str(tmp_path / "bad.npz")],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "shape" in r.stderr


def test_random_inputs_follow_the_quantized_models_input_range():
    """Without --data, compare draws inputs over the float range the int8 input represents (what the model was
    calibrated for), also behind a float input's QUANTIZE (--io float); a dynamic-range model, whose input
    stays float, gets standard-normal samples."""
    from edgequant.cli.compare import random_float_inputs
    from edgequant.quantizer import Recipe

    fm = eq.load_file(DATA / "digits_cnn.tflite")
    x = np.load(DATA / "digits_test.npz")["x"]
    q8 = eq.quantize(fm, Recipe.int8(), calibration_data=x[:100])  # int8 model input
    t = q8.main.tensors[q8.main.inputs[0]]
    s, zp = float(t.quantization.scale[0]), int(t.quantization.zero_point[0])
    (a,), what = random_float_inputs(fm, 50, q8)
    assert a.shape == (50, 8, 8, 1) and a.min() >= s * (-128 - zp) - 1e-6 and a.max() <= s * (127 - zp) + 1e-6
    assert a.max() - a.min() > 0.9 * 255 * s and "uniform" in what
    q8f = eq.quantize(fm, Recipe.int8(io="float"), calibration_data=x[:100])  # float input, then QUANTIZE
    (c,), what_f = random_float_inputs(fm, 50, q8f)
    assert what_f == what and np.array_equal(c, a)  # the same range, read from the QUANTIZE after the input
    dyn = eq.quantize(fm, Recipe.dynamic_int8())
    (b,), what = random_float_inputs(fm, 50, dyn)
    assert what == "random inputs, standard normal" and b.min() < -1 < 1 < b.max()


def test_cli_compare_skip_starts_after_the_first_samples(models, tmp_path):
    fm, qm, x = models
    eq.save_file(fm, tmp_path / "f.tflite")
    eq.save_file(qm, tmp_path / "q.tflite")
    bad = np.array(x)
    bad[:5] = np.nan  # only the skipped samples are bad
    np.savez(tmp_path / "x.npz", x=bad)
    base = [sys.executable, "-m", "edgequant", "compare", str(tmp_path / "f.tflite"), str(tmp_path / "q.tflite"),
            "--data", str(tmp_path / "x.npz")]
    r = subprocess.run(base + ["--skip", "5", "-n", "20"], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and "on 20 samples" in r.stdout and "samples 5 to 24" in r.stdout, r.stderr
    r = subprocess.run(base, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and "NaN" in r.stderr


def test_cli_compare_checks_the_plot_path_before_comparing(models, tmp_path):
    fm, qm, _ = models
    eq.save_file(fm, tmp_path / "f.tflite")
    eq.save_file(qm, tmp_path / "q.tflite")
    r = subprocess.run([sys.executable, "-m", "edgequant", "compare", str(tmp_path / "f.tflite"),
                        str(tmp_path / "q.tflite"), "--plot", str(tmp_path / "no" / "p.png")],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and r.stdout == "" and "folder" in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_a_renamed_model_output_is_still_compared_by_its_place(models):
    """Another tool's file may rename the output (Identity -> Identity_int8): the output row must not vanish."""
    fm, qm, x = models
    renamed = eq.load(eq.save(qm))
    t = renamed.main.tensors[renamed.main.outputs[0]]
    t.name = t.name + "_int8"
    rows = compare_layers(fm, renamed, [x])
    row = [r for r in rows if r.tensor == t.name]
    direct = Q.sqnr_db(eq.Interpreter(fm).run([x])[0], eq.Interpreter(renamed).run([x])[0])
    assert row and abs(row[0].sqnr_db - direct) < 1e-6


def test_cli_compare_says_when_the_two_models_are_unrelated(tmp_path, capsys):
    from edgequant.cli import main

    other = tmp_path / "other.tflite"
    m = eq.load_file(DATA / "digits_cnn.tflite")
    t = m.main.tensors[m.main.inputs[0]]
    t.shape = [1, 9, 9, 1]
    eq.save_file(m, other)
    assert main(["compare", str(DATA / "digits_cnn.tflite"), str(other)]) == 2
    assert capsys.readouterr().err == ("error: other.tflite is not a quantized copy of digits_cnn.tflite: their inputs "
                                       "differ (samples of shape [[9, 9, 1]] vs [[8, 8, 1]])\n")


def test_cli_compare_refuses_what_it_cannot_compare(models, tmp_path, capsys):
    """Found by a bad-input audit: -n -1 was a numpy traceback, string data a TypeError traceback, uint8 data and
    --skip without --data were silently taken, and an int8 model given as the float one printed 28 lines of
    warnings before an error that named no file."""
    from edgequant.cli import main

    fm, qm, x = models
    f, q = tmp_path / "f.tflite", tmp_path / "q.tflite"
    eq.save_file(fm, f)
    eq.save_file(qm, q)
    np.save(tmp_path / "s.npy", np.full(x.shape, "a"))
    np.save(tmp_path / "u8.npy", (x * 255).astype(np.uint8))
    for argv, says in [
        ([str(f), str(q), "--data", str(tmp_path / "s.npy")], f"error: {tmp_path / 's.npy'}: input "),
        ([str(f), str(q), "--data", str(tmp_path / "u8.npy")], f"error: {tmp_path / 'u8.npy'}: input "),
        ([str(f), str(q), "--skip", "3"], "error: --skip K skips samples of --data"),
        ([str(q), str(q)], f"error: {q}: not the float model (model is already quantized"),
    ]:
        assert main(["compare", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith(says) and err.count("\n") == 1, err
    with pytest.raises(SystemExit):
        main(["compare", str(f), str(q), "-n", "-1"])
    assert capsys.readouterr().err.startswith("edgequant compare: error: argument -n/--samples: -1: give 1 or more")
