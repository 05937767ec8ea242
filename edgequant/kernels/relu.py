"""RELU: float32 and int8/int16 (clamp to [0.0, np.inf] with requantization)."""

from __future__ import annotations

import numpy as np

from . import Kernel, kernel
from ._relu import eval_relu, prepare_relu


@kernel("RELU")
class Relu(Kernel):
    """reference_ops::ReluX (float clamp) and QuantizedReluX of activations.cc (int): see _relu."""

    def prepare(self, ctx, op):
        return prepare_relu(ctx, 0.0, np.inf)

    def eval(self, p, inputs):
        return [eval_relu(p, inputs[0])]
