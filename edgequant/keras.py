"""Keras bridge (needs the ``tf`` extra): a Keras model -> float .tflite via TensorFlow -> our quantizer.

TensorFlow is used only for the float conversion, which needs its graph tracing; every quantization
step after it is edgequant's own.

>>> from edgequant import keras as ek
>>> q = ek.quantize(keras_model, "int8", calibration_data=x_calib)
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

from .errors import EdgequantError, require
from .graph import Model, load


def to_tflite(model: Any) -> bytes:
    """The float .tflite bytes of a Keras model (``TFLiteConverter.from_keras_model``, no optimizations)."""
    tf = require("tensorflow", "tf")
    if not isinstance(model, tf.keras.Model):
        raise EdgequantError(f"expected a Keras model, got {type(model).__name__}")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = []
    try:
        # Keras prints its SavedModel export ("Saved artifact at ...", every TensorSpec) to stdout
        with contextlib.redirect_stdout(io.StringIO()):
            return bytes(converter.convert())
    except Exception as e:  # TensorFlow raises many types here; one line is what a user needs
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise EdgequantError(f"TensorFlow could not convert the Keras model: {first}") from e


def to_model(model: Any) -> Model:
    """The Keras model as an edgequant Model (float)."""
    return load(to_tflite(model))


def quantize(model: Any, recipe: Any = "dynamic_int8", calibration_data: Any = None) -> Model:
    """Convert a Keras model to float .tflite with TensorFlow, then quantize it with edgequant."""
    from .quantizer import quantize as eq_quantize

    return eq_quantize(to_model(model), recipe, calibration_data)
