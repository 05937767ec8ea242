"""SQUARE: elementwise x * x (float32 only, as in TFLite)."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from .neg import UnaryParams


@kernel("SQUARE")
class Square(Kernel):
    """reference: lite/kernels/elementwise.cc SquareEval (float32 ``f * f``)."""

    def prepare(self, ctx, op):
        x = ctx.input(0)
        if x.type != dtypes.FLOAT32 or ctx.output(0).type != dtypes.FLOAT32:
            raise UnsupportedError(f"SQUARE of {dtypes.name(x.type)}; TFLite supports FLOAT32 only")
        return UnaryParams()

    def eval(self, p, inputs):
        x = inputs[0]
        return [np.multiply(x, x, dtype=np.float32)]
