"""int8 UNIDIRECTIONAL_SEQUENCE_LSTM: edgequant's quantizer against TensorFlow's on tflite-micro's mnist_lstm.

Both quantize the same float file (../shared/models/tflm_mnist_lstm_float.tflite) full-integer int8 from the same
calibration samples: the first 200 MNIST test images (../shared/data/t10k-images-idx3-ubyte.gz, /255, the 28 rows
as 28 time steps). TensorFlow's side is the calibrate-and-quantize step TFLiteConverter runs
(``calibrator.Calibrator(add_intermediate_tensors(float)).calibrate_and_quantize``, int8 in and out), as
tools/make_lstm_goldens.py does, since the Keras source of the model is not here. Evaluation: test images
1000-2999, each from a reset state (reset_all_variables), in LiteRT's reference kernels (BUILTIN_REF); printed:
output SQNR of the dequantized probabilities against the float model, top-1 accuracy against the labels, and
top-1 agreement with the float model. Needs TensorFlow (a developer dependency) for the second row.

    .venv/bin/python benchmarks/lstm_sqnr.py
"""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODEL = SHARED / "models" / "tflm_mnist_lstm_float.tflite"
CALIB, HELD = slice(0, 200), slice(1000, 3000)


def mnist() -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(SHARED / "data" / "t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28).astype(np.float32) / 255
    with gzip.open(SHARED / "data" / "t10k-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return x, y


def run(blob: bytes, xs: np.ndarray) -> np.ndarray:
    """Float outputs (dequantized if int8), one image per invoke from a reset state."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=blob, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    outs = []
    for x in xs:
        it.reset_all_variables()
        if i["dtype"] == np.int8:
            s, z = i["quantization"]
            x = np.clip(np.round(x / s) + z, -128, 127).astype(np.int8)
        it.set_tensor(i["index"], x[None])
        it.invoke()
        y = it.get_tensor(o["index"])[0]
        if o["dtype"] == np.int8:
            s, z = o["quantization"]
            y = (y.astype(np.float32) - z) * s
        outs.append(y)
    return np.stack(outs)


def tensorflow_int8(blob: bytes, calib: np.ndarray) -> bytes:
    import tensorflow as tf
    from tensorflow.lite.python.optimize import calibrator

    def rep():
        for x in calib:
            yield [x[None]]

    cal = calibrator.Calibrator(calibrator.add_intermediate_tensors(blob))
    return bytes(cal.calibrate_and_quantize(rep, tf.int8, tf.int8, False))


def main() -> int:
    import edgequant as eq
    from edgequant.quantizer import Recipe, quantize

    if not MODEL.exists():
        print(f"{MODEL} is missing")
        return 1
    x, labels = mnist()
    blob = MODEL.read_bytes()
    rows = [("edgequant int8 (defaults: GPTQ rounding of the FULLY_CONNECTED)",
             eq.save(quantize(eq.load(blob), Recipe.int8(), x[CALIB]))),
            ("edgequant int8, nearest rounding, minmax weight scales (TFLite's choices)",
             eq.save(quantize(eq.load(blob), Recipe.int8(weight_rounding="nearest", weight_range="minmax"), x[CALIB])))]
    try:
        rows.append(("TensorFlow calibrate_and_quantize int8", tensorflow_int8(blob, x[CALIB])))
    except ImportError as e:
        print(f"TensorFlow row skipped: {e}")
    ref = run(blob, x[HELD])
    print(f"float: top-1 {np.mean(ref.argmax(1) == labels[HELD]):.4f} on test images {HELD.start}-{HELD.stop - 1}")
    print("| quantizer | SQNR vs float (dB) | top-1 | agrees with float |")
    print("|---|---|---|---|")
    for name, q in rows:
        y = run(q, x[HELD])
        sqnr = 10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((ref - y).astype(np.float64) ** 2))
        print(f"| {name} | {sqnr:.2f} | {np.mean(y.argmax(1) == labels[HELD]):.4f} | "
              f"{np.mean(y.argmax(1) == ref.argmax(1)):.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
