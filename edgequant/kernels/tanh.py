"""TANH: float32, int8 (LiteRT: 256-entry LUT; tflite-micro: gemmlowp fixed point) and int16 (sigmoid table)."""

from __future__ import annotations

import numpy as np

from . import Kernel, kernel
from ._lut import SquashingActivation, tanh_f32


@kernel("TANH")
class Tanh(SquashingActivation, Kernel):
    """reference_ops::Tanh / LUTPopulate<int8_t> / reference_integer_ops::Tanh (int8, int16): see SquashingActivation."""

    op, fixed_kind, out_scale, out_zp = "TANH", "tanh", 1.0 / 128, 0
    lut_fn = staticmethod(tanh_f32)
    float_fn = staticmethod(np.tanh)
