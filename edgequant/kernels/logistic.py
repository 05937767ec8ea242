"""LOGISTIC: float32, int8 (LiteRT: 256-entry LUT; tflite-micro: gemmlowp fixed point) and int16 (sigmoid table)."""

from __future__ import annotations

import numpy as np

from . import Kernel, kernel
from ._lut import SquashingActivation, sigmoid_f32


def _logistic_f32(x: np.ndarray) -> np.ndarray:
    return np.float32(1) / (np.float32(1) + np.exp(-x))


@kernel("LOGISTIC")
class Logistic(SquashingActivation, Kernel):
    """reference_ops::Logistic / LUTPopulate<int8_t> / reference_integer_ops::Logistic (int8, int16): see
    SquashingActivation."""

    op, fixed_kind, out_scale, out_zp = "LOGISTIC", "logistic", 1.0 / 256, -128
    lut_fn = staticmethod(sigmoid_f32)
    float_fn = staticmethod(_logistic_f32)
