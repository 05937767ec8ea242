"""NEG: elementwise -x (float32, int8/int16/int32/int64 raw integers, wrapping like C++)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel


@dataclass(frozen=True)
class UnaryParams:
    batchable: bool = True


@kernel("NEG")
class Neg(Kernel):
    """reference_ops::Negate (lite/kernels/neg.cc): ``-x`` on the stored values, no requantization."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type != y.type or x.type not in (dtypes.FLOAT32, dtypes.INT8, dtypes.INT16, dtypes.INT32, dtypes.INT64):
            raise UnsupportedError(f"NEG of {dtypes.name(x.type)} into {dtypes.name(y.type)}")
        return UnaryParams()

    def eval(self, p, inputs):
        return [np.negative(inputs[0])]
