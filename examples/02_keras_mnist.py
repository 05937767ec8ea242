"""Lesson 2: the seed's Keras model on MNIST -> float .tflite -> dynamic-range int8 with edgequant.

Needs TensorFlow (pip install 'edgequant[tf]'). MNIST comes from idx files in a directory (default:
../shared/data, the t10k set, split 8000 train / 2000 test) or from keras.datasets.mnist when online.

    python examples/02_keras_mnist.py [--data DIR] [--epochs 2] [--out out/]
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np

import edgequant as eq
from edgequant import keras as ek
from edgequant.errors import EdgequantError, require
from edgequant.interpreter import Interpreter


def read_idx(path: Path) -> np.ndarray:
    """An MNIST idx file (optionally .gz) as a numpy array."""
    if path.suffix == ".gz":
        with gzip.open(path) as f:
            raw = f.read()
    else:
        raw = path.read_bytes()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(data_dir: Path | None):
    if data_dir is not None:
        x = read_idx(next(data_dir.glob("t10k-images-idx3-ubyte*"))).astype(np.float32) / 255.0
        y = read_idx(next(data_dir.glob("t10k-labels-idx1-ubyte*"))).astype(np.int64)
        return (x[:8000], y[:8000]), (x[8000:], y[8000:])
    import tensorflow as tf

    (xt, yt), (xs, ys) = tf.keras.datasets.mnist.load_data()
    return (xt.astype(np.float32) / 255.0, yt), (xs.astype(np.float32) / 255.0, ys)


def seed_model():
    """InputLayer 28x28, Reshape, Conv2D 64 3x3 ReLU, MaxPool 2x2, Flatten, Dense 10 (the lesson's model)."""
    import tensorflow as tf

    k = tf.keras
    return k.Sequential([
        k.layers.InputLayer(shape=(28, 28)),
        k.layers.Reshape((28, 28, 1)),
        k.layers.Conv2D(64, 3, activation="relu"),
        k.layers.MaxPooling2D(2),
        k.layers.Flatten(),
        k.layers.Dense(10),
    ])


def accuracy(model: eq.Model, x: np.ndarray, y: np.ndarray) -> float:
    logits = Interpreter(model).run([x])[0]
    return float(np.mean(np.argmax(logits, axis=-1) == y))


def main(data_dir: Path | None, epochs: int = 2, out: Path = Path("out"), limit: int | None = None) -> dict:
    tf = require("tensorflow", "tf")  # without it: one line naming the pip install to run

    tf.keras.utils.set_random_seed(0)
    (xtr, ytr), (xte, yte) = load_mnist(data_dir)
    if limit:
        xtr, ytr = xtr[:limit], ytr[:limit]
    model = seed_model()
    model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(xtr, ytr, epochs=epochs, batch_size=64, verbose=0)
    out.mkdir(parents=True, exist_ok=True)
    float_bytes = ek.to_tflite(model)
    eq.save_file(eq.load(float_bytes), out / "mnist_float.tflite")
    fm = eq.load(float_bytes)
    qm = ek.quantize(model, "dynamic_int8")
    eq.save_file(qm, out / "mnist_dynamic_int8.tflite")
    q_bytes = len(eq.save(qm))
    result = {
        "float_bytes": len(float_bytes), "dynamic_int8_bytes": q_bytes, "ratio": len(float_bytes) / q_bytes,
        "float_accuracy": accuracy(fm, xte, yte), "dynamic_int8_accuracy": accuracy(qm, xte, yte),
    }
    print(f"float .tflite:        {result['float_bytes']:>9,} bytes  accuracy {result['float_accuracy']:.4f}")
    print(f"dynamic-range int8:   {result['dynamic_int8_bytes']:>9,} bytes  accuracy "
          f"{result['dynamic_int8_accuracy']:.4f}  ({result['ratio']:.2f}x smaller)")
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    ap.add_argument("--data", type=Path, default=default if default.is_dir() else None)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("out"))
    a = ap.parse_args()
    try:
        main(a.data, a.epochs, a.out)
    except EdgequantError as e:
        sys.exit(f"error: {e}")
