"""FLOOR_DIV: elementwise floor(a / b) with broadcasting (float32, int8/int16/int32 raw integers)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import EdgequantError, UnsupportedError
from . import Kernel, kernel
from ._common import broadcast_shape
from ._elementwise import batchable_binary


@dataclass(frozen=True)
class FloorDivParams:
    is_float: bool
    batchable: bool


@kernel("FLOOR_DIV")
class FloorDiv(Kernel):
    """reference: lite/kernels/floor_div.cc. Integers: ``std::floor(double(a) / double(b))`` (a zero
    divisor is an error); float32: ``std::floor(a / b)`` in float32."""

    def prepare(self, ctx, op):
        a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
        if not (a.type == b.type == y.type) or a.type not in (dtypes.FLOAT32, dtypes.INT8, dtypes.INT16,
                                                                dtypes.INT32):
            raise UnsupportedError(f"FLOOR_DIV of {dtypes.name(a.type)} and {dtypes.name(b.type)}")
        broadcast_shape(a.shape or [], b.shape or [])
        return FloorDivParams(a.type == dtypes.FLOAT32, batchable_binary(ctx, len(y.shape or [])))

    def eval(self, p: FloorDivParams, inputs):
        a, b = inputs
        if p.is_float:
            with np.errstate(divide="ignore", invalid="ignore"):
                return [np.floor(np.divide(a, b, dtype=np.float32))]
        if np.any(b == 0):
            raise EdgequantError("FLOOR_DIV by zero")
        return [np.floor_divide(a, b).astype(a.dtype)]
