"""HARD_SWISH: x * relu6(x + 3) / 6 (float32). The int8 fixed-point path is not implemented."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from .neg import UnaryParams


@kernel("HARD_SWISH")
class HardSwish(Kernel):
    """reference_ops::HardSwish (float): ``x * min(6, max(0, x + 3)) / 6`` in float32. The quantized
    kernel (reluish/input multipliers and saturating 16-bit fixed point) is not implemented: int8/int16
    models raise UnsupportedError in prepare."""

    def prepare(self, ctx, op):
        x = ctx.input(0)
        if x.type != dtypes.FLOAT32 or ctx.output(0).type != dtypes.FLOAT32:
            raise UnsupportedError(f"HARD_SWISH of {dtypes.name(x.type)}: only FLOAT32 is implemented")
        return UnaryParams()

    def eval(self, p, inputs):
        x = inputs[0]
        f = np.float32
        return [x * np.minimum(f(6), np.maximum(f(0), x + f(3))) / f(6)]
