"""SQUARED_DIFFERENCE: elementwise (a - b)^2 with broadcasting (float32, int32)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import broadcast_shape
from ._elementwise import batchable_binary


@dataclass(frozen=True)
class SqDiffParams:
    is_float: bool
    batchable: bool


@kernel("SQUARED_DIFFERENCE")
class SquaredDifference(Kernel):
    """reference: lite/kernels/squared_difference.cc (float32 ``d * d``; int32 wraps like C++).
    The int8 path (rescaled with left_shift 7 and three multipliers) is not implemented: int8 models
    raise UnsupportedError in prepare rather than run with unverified arithmetic."""

    def prepare(self, ctx, op):
        a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
        if not (a.type == b.type == y.type) or a.type not in (dtypes.FLOAT32, dtypes.INT32):
            raise UnsupportedError(f"SQUARED_DIFFERENCE of {dtypes.name(a.type)}; supported: FLOAT32, INT32")
        broadcast_shape(a.shape or [], b.shape or [])
        return SqDiffParams(a.type == dtypes.FLOAT32, batchable_binary(ctx, len(y.shape or [])))

    def eval(self, p: SqDiffParams, inputs):
        a, b = inputs
        if p.is_float:
            d = np.subtract(a, b, dtype=np.float32)
            return [d * d]
        d = a.astype(np.int64) - b.astype(np.int64)
        return [((d * d) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)]
