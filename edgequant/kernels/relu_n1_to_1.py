"""RELU_N1_TO_1: float32 and int8/int16 (clamp to [-1.0, 1.0] with requantization)."""

from __future__ import annotations

from . import Kernel, kernel
from ._relu import eval_relu, prepare_relu


@kernel("RELU_N1_TO_1")
class ReluN1To1(Kernel):
    """reference_ops::ReluX (float clamp) and QuantizedReluX of activations.cc (int): see _relu."""

    def prepare(self, ctx, op):
        return prepare_relu(ctx, -1.0, 1.0)

    def eval(self, p, inputs):
        return [eval_relu(p, inputs[0])]
