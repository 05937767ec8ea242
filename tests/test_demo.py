"""The README's main job: `edgequant demo` on the built-in model and data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgequant as eq


def _demo(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "edgequant", "demo", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, check=False)


def test_demo_tells_the_whole_story(tmp_path):
    pytest.importorskip("matplotlib", reason="the demo's pictures need matplotlib")
    r = _demo("-o", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr[-2000:]
    out = tmp_path / "out"
    rows = {row["mode"]: row for row in json.loads((out / "summary.json").read_text())}
    assert list(rows) == ["float32", "dynamic_int8", "float16", "int8", "int16x8"]
    fl = rows["float32"]
    for mode in ("dynamic_int8", "int8", "int16x8"):
        assert rows[mode]["bytes"] < 0.4 * fl["bytes"], mode  # int8 weights: ~4x smaller
        assert rows[mode]["accuracy"] >= fl["accuracy"] - 0.02, mode
        m = eq.load_file(out / f"digits_cnn_{mode}.tflite")
        assert len(eq.save(m)) == rows[mode]["bytes"]
    assert rows["float16"]["bytes"] < 0.6 * fl["bytes"] and rows["float16"]["sqnr_db"] > 50
    assert rows["int8"]["sqnr_db"] > 25 and rows["int16x8"]["sqnr_db"] > rows["int8"]["sqnr_db"]
    md = (out / "summary.md").read_text()
    assert md.count("\n| ") == 6 and "weights_hist.png" in md
    assert "int8_layer_sqnr.png" in md and "lowest SQNR" in r.stdout
    for png in ("weights_hist.png", "channel_ranges.png", "int8_layer_sqnr.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert "[8/8] summary" in r.stdout and "int16x8" in r.stdout


def test_demo_with_bad_data_is_one_line(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    r = _demo("--data", str(bad), "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: ")


def test_demo_on_another_model_without_data_uses_random_inputs(tmp_path):
    """--model alone: random inputs shaped for that model, SQNR but no accuracy (and valid JSON: null)."""
    model = Path(__file__).parent / "data" / "fixtures" / "digits_resnet.tflite"
    r = _demo("--model", str(model), "-o", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [row["accuracy"] for row in rows] == [None] * 5
    assert all(row["sqnr_db"] > 25 for row in rows[1:])
    assert "random inputs" in (tmp_path / "out" / "summary.md").read_text()


def _relu_model(shape) -> bytes:
    from edgequant import dtypes
    from edgequant.graph import Buffer, Model, Operator, SubGraph, Tensor

    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()])
    sg = SubGraph(tensors=[Tensor(name=n, type=dtypes.FLOAT32, shape=shape, buffer=0) for n in ("x", "y")],
                  operators=[], inputs=[0], outputs=[1], name="main")
    m.subgraphs.append(sg)
    sg.operators.append(Operator(opcode_index=m.op_code_index("RELU"), inputs=[0], outputs=[1]))
    return eq.save(m.bind())


def test_demo_with_data_that_does_not_fit_the_model_is_one_line_and_writes_nothing(tmp_path):
    model = tmp_path / "relu.tflite"
    model.write_bytes(_relu_model([1, 32, 32, 3]))
    out = tmp_path / "out"
    r = _demo("--model", str(model), "--data", str(Path(eq.__file__).parent / "data" / "digits_test.npz"),
              "-o", str(out))
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "don't fit input 'x' [1, 32, 32, 3]" in r.stderr and not out.exists()


DIGITS = Path(eq.__file__).parent / "data" / "digits_test.npz"


def test_demo_refuses_unusable_samples_and_labels_before_writing_anything(tmp_path, capsys):
    """Each used to be a traceback, a silent accuracy of 0, an SQNR of nan with exit 0, or an error at step 4
    after the output folder and its pictures were made."""
    from edgequant.cli import main

    d = np.load(DIGITS)
    x, y = d["x"], d["y"]
    nan_eval, inf_calib = x.copy(), x.copy()
    nan_eval[200, 3, 3, 0] = np.nan  # an evaluation sample (the first 100 calibrate)
    inf_calib[5, 0, 0, 0] = np.inf
    short = "'y' has shape [10]; expected one integer label per sample of 'x', shape [360]"
    cases = {
        "short_y": ({"x": x, "y": y[:10]}, short),
        "fractional_y": ({"x": x, "y": y + 0.5}, "'y' must hold integer class labels"),
        "nan_eval": ({"x": nan_eval, "y": y}, "sample 200 of 'x' contains NaN or Inf (1 sample in all)"),
        "inf_calib": ({"x": inf_calib, "y": y}, "sample 5 of 'x' contains NaN or Inf (1 sample in all)"),
        # labels the model has no class for gave a quiet accuracy of 0 on those samples
        "y_99": ({"x": x, "y": np.where(np.arange(len(y)) == 7, 99, y)}, "label 99 of sample 7 is not a class of "),
        "y_neg": ({"x": x, "y": np.where(np.arange(len(y)) == 0, -1, y)}, "label -1 of sample 0 is not a class of "),
    }
    out = tmp_path / "out"
    for name, (arrays, message) in cases.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, **arrays)
        assert main(["demo", "--data", str(path), "-o", str(out)]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith(f"error: {path}: {message}") and err.count("\n") == 1, err
        assert not out.exists(), name
    taken = tmp_path / "taken"
    taken.write_text("a file, not a folder")
    assert main(["demo", "-o", str(taken)]) == 2
    assert capsys.readouterr().err == f"error: -o {taken}: exists and is not a folder\n"


def test_demo_takes_an_npy_of_samples_and_whole_float_labels(tmp_path, capsys):
    from edgequant.cli import main

    d = np.load(DIGITS)
    np.save(tmp_path / "x.npy", d["x"][:130])  # used to be a traceback: np.load of a .npy is no context manager
    assert main(["demo", "--data", str(tmp_path / "x.npy"), "-o", str(tmp_path / "a")]) == 0
    rows = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert [r["accuracy"] for r in rows] == [None] * 5 and all(r["sqnr_db"] > 25 for r in rows[1:])
    np.savez(tmp_path / "f.npz", x=d["x"][:130], y=d["y"][:130].astype(np.float32))  # 3.0 is class 3
    assert main(["demo", "--data", str(tmp_path / "f.npz"), "-o", str(tmp_path / "b")]) == 0
    rows = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert rows[0]["accuracy"] > 0.9
    out = capsys.readouterr().out
    note = "seconds: quantize (calibration on 100 samples included) + run the 30 evaluation samples; float32: run only"
    assert note in out and note in (tmp_path / "b" / "summary.md").read_text()


def test_demo_without_matplotlib_does_not_claim_pictures(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; from edgequant.cli import main; "
            f"sys.exit(main(['demo', '--data', {str(tmp_path / 'x.npz')!r}, '-o', {str(tmp_path / 'o')!r}]))")
    np.savez(tmp_path / "x.npz", x=np.load(DIGITS)["x"][:120])
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    last = r.stdout.strip().splitlines()[-1]
    assert last == f"wrote {tmp_path / 'o'}/summary.md (and .json), the four quantized models (no pictures) in " \
                   f"{tmp_path / 'o'}/", last
    assert "(no pictures: matplotlib is not installed" in r.stdout
    assert not list((tmp_path / "o").glob("*.png")) and ".png" not in (tmp_path / "o" / "summary.md").read_text()
