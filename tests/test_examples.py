"""The lesson's examples run and show what they claim."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MODELS, SHARED, need_shared

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_lesson1_ptq_numpy(capsys):
    r = _load("01_ptq_numpy").main()
    for scheme in ("midpoint", "tflite", "tflite-symmetric-weights"):
        assert r[scheme]["distinct_values"] <= 256
    # TFLite's scheme: worst error is half a step; the midpoint scheme clips its top value by a full step
    assert r["tflite"]["max_abs_error"] <= r["tflite"]["scale"] / 2 * (1 + 1e-5)
    assert r["midpoint"]["max_abs_error"] > r["tflite"]["max_abs_error"]
    assert r["tflite"]["zero_exact"] and r["tflite"]["sqnr_db"] > 35
    assert "SQNR" in capsys.readouterr().out


def test_lesson3_inspect_dict_real_dtype():
    ex = _load("03_inspect_dict")
    r = ex.main()  # the built-in float model
    assert r["dtype"] == "float32" and r["buffer_bytes"] == 4 * int(np.prod(r["shape"]))
    path = need_shared(MODELS / "mlperf_tiny_kws_dscnn_int8.tflite")
    r = ex.main(path)
    assert r["dtype"] == "int8" and r["buffer_bytes"] == int(np.prod(r["shape"]))
    # no garbage from reading int8 bytes as float32: values are within a plausible weight range
    assert -10 < r["min"] < 0 < r["max"] < 10 and r["counts"].sum() == int(np.prod(r["shape"]))
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    it = litert.Interpreter(model_path=str(path))
    it.allocate_tensors()
    d = it.get_tensor_details()[r["index"]]
    raw = it.get_tensor(r["index"]).astype(np.float32)
    scales = d["quantization_parameters"]["scales"].reshape(-1, 1, 1, 1)
    np.testing.assert_allclose(r["min"], (raw * scales).min(), rtol=1e-6)


@pytest.mark.slow
def test_lesson2_keras_mnist_dynamic_range(tmp_path):
    pytest.importorskip("tensorflow", reason="needs TensorFlow (pip install 'edgequant[tf]')")
    data = need_shared(SHARED / "data")
    r = _load("02_keras_mnist").main(data, epochs=2, out=tmp_path, limit=4000)
    assert r["ratio"] > 3.5  # float32 -> int8 weights: the lesson reports about 4x
    assert r["float_accuracy"] > 0.85
    assert abs(r["float_accuracy"] - r["dynamic_int8_accuracy"]) < 0.02
    assert (tmp_path / "mnist_dynamic_int8.tflite").stat().st_size == r["dynamic_int8_bytes"]


def test_lesson4_histograms_side_by_side(tmp_path):
    pytest.importorskip("matplotlib", reason="needs matplotlib (pip install 'edgequant[plot]')")
    ex = _load("04_model_histograms")
    paths = [need_shared(MODELS / m) for m in ("mlperf_tiny_kws_dscnn_int8.tflite", "tflm_micro_speech_int8.tflite",
                                                "mlperf_tiny_ic_resnet8_float.tflite")]
    rows = ex.main(paths, tmp_path / "h.png")
    assert [r["count"] for r in rows] == [int(r["counts"].sum()) for r in rows]
    # int8 weights dequantized with their scales: micro_speech's stay small, no float32 garbage anywhere
    assert rows[1]["max_abs"] < 1.0 and all(r["max_abs"] < 100 for r in rows)
    png = (tmp_path / "h.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 1200


def test_examples_fail_in_one_line_without_their_extra_or_their_files(tmp_path):
    import subprocess

    block_tf = ("import runpy, sys; sys.modules['tensorflow'] = None; sys.argv = ['02']; "
                f"runpy.run_path({str(EXAMPLES / '02_keras_mnist.py')!r}, run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", block_tf], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 1 and r.stderr.strip() == "error: tensorflow is not installed; run: pip install " \
        "'edgequant[tf]'", r.stderr
    r = subprocess.run([sys.executable, str(EXAMPLES / "04_model_histograms.py"), str(tmp_path / "none.tflite"),
                        "-o", str(tmp_path / "h.png")], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 1 and r.stderr.strip() == f"error: {tmp_path / 'none.tflite'}: no such file", r.stderr


def test_lesson3_takes_another_weight_op_without_conv_and_says_when_there_is_none(tmp_path):
    ex = _load("03_inspect_dict")
    r = ex.main(need_shared(MODELS / "tflm_mnist_lstm_float.tflite"))  # LSTM + FULLY_CONNECTED, no CONV_2D
    assert r["dtype"] == "float32" and r["shape"] == [10, 560]
    with pytest.raises(SystemExit, match="no op with a constant weight tensor"):
        ex.main(need_shared(MODELS / "tflm_simple_add.tflite"))
