"""The README's main job: `edgequant demo` on the built-in model and data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
