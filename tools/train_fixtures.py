"""Train the quantizer's test fixtures and the demo model (developer-only: needs TensorFlow and scikit-learn).

Data: scikit-learn's ``load_digits`` (1797 8x8 images, values 0..16, scaled to [0, 1]), split 80/20 with
``train_test_split(random_state=0, stratify=y)``. Two Keras models are trained and converted to float
.tflite with TFLiteConverter (no optimizations):

* ``digits_cnn``    the seed's architecture: Conv2D 64 3x3 + ReLU, MaxPool 2x2, Flatten, Dense 10.
* ``digits_resnet`` Conv2D+BN+ReLU6, DepthwiseConv2D+BN+ReLU6, residual ADD, 1x1 Conv2D, CONCATENATION,
                    AveragePooling 2x2, Flatten, Dense 10, SOFTMAX (BN folds into the convs on conversion).

Written: ``tests/data/fixtures/{digits_cnn,digits_resnet}.tflite`` and ``.keras`` (the Keras source, for the
benchmark's TFLiteConverter column), ``tests/data/fixtures/digits_split.npz`` (x_calib: 200 training
samples, x_test/y_test: the held-out split), and the demo pair ``edgequant/data/digits_cnn.tflite`` +
``edgequant/data/digits_test.npz`` (x/y: the held-out split).

    .venv/bin/python tools/train_fixtures.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "fixtures"
DEMO = ROOT / "edgequant" / "data"
SEED = 0


def digits_split():
    """(x_train, y_train, x_test, y_test) as float32 NHWC in [0, 1] and int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=SEED, stratify=y)
    return x_tr, y_tr, x_te, y_te


def build_cnn(keras):
    inp = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(inp)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(10, name="logits")(x)
    return keras.Model(inp, out, name="digits_cnn")


def build_resnet(keras):
    L = keras.layers
    inp = keras.Input((8, 8, 1), name="image")
    a = L.Conv2D(16, 3, padding="same", use_bias=False)(inp)
    a = L.BatchNormalization()(a)
    a = L.ReLU(6.0)(a)
    b = L.DepthwiseConv2D(3, padding="same", use_bias=False)(a)
    b = L.BatchNormalization()(b)
    b = L.ReLU(6.0)(b)
    c = L.Add()([a, b])
    d = L.Conv2D(16, 1, activation="relu")(c)
    e = L.Concatenate()([c, d])
    f = L.AveragePooling2D(2)(e)
    g = L.Flatten()(f)
    h = L.Dense(10)(g)
    out = L.Softmax(name="probs")(h)
    return keras.Model(inp, out, name="digits_resnet")


def train(model, keras, x, y, epochs):
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=model.name == "digits_cnn")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss, metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, shuffle=True)
    return model


def to_tflite(tf, model) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    return conv.convert()


def tflite_accuracy(blob: bytes, x: np.ndarray, y: np.ndarray) -> float:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=blob)
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    it.resize_tensor_input(i["index"], list(x.shape))
    it.allocate_tensors()
    it.set_tensor(i["index"], x.astype(np.float32))
    it.invoke()
    return float(np.mean(np.argmax(it.get_tensor(o["index"]), axis=-1) == y))


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    from tensorflow import keras

    sys.path.insert(0, str(ROOT))
    from edgequant.graph import write_atomic

    keras.utils.set_random_seed(SEED)
    x_tr, y_tr, x_te, y_te = digits_split()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    DEMO.mkdir(parents=True, exist_ok=True)
    for build, epochs in ((build_cnn, 30), (build_resnet, 60)):
        model = train(build(keras), keras, x_tr, y_tr, epochs)
        blob = to_tflite(tf, model)
        write_atomic(FIXTURES / f"{model.name}.tflite", blob)
        bare = build(keras)  # uncompiled copy: the .keras file then carries no optimizer state
        bare.set_weights(model.get_weights())
        bare.save(FIXTURES / f"{model.name}.keras")
        acc = tflite_accuracy(blob, x_te, y_te)
        print(f"{model.name}: {len(blob)} bytes, float test accuracy {acc:.4f} on {len(y_te)} samples")
        if model.name == "digits_cnn":
            write_atomic(DEMO / "digits_cnn.tflite", blob)
    rng = np.random.default_rng(SEED)
    calib = x_tr[rng.choice(len(x_tr), 200, replace=False)]
    np.savez_compressed(FIXTURES / "digits_split.npz", x_calib=calib, x_test=x_te, y_test=y_te)
    np.savez_compressed(DEMO / "digits_test.npz", x=x_te, y=y_te)
    return 0


if __name__ == "__main__":
    sys.exit(main())
