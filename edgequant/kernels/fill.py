"""FILL: a tensor of the given dims, every element the scalar value (any type)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import EdgequantError, UnsupportedError
from . import Kernel, kernel
from .pack import same_quantization


@dataclass(frozen=True)
class FillParams:
    batchable: bool


@kernel("FILL")
class Fill(Kernel):
    """reference: lite/kernels/fill.cc (reference_ops::Fill). dims is int32/int64 and must be
    non-negative; value is a scalar of the output type (quantized outputs share its parameters)."""

    def prepare(self, ctx, op):
        dims, value, y = ctx.input(0), ctx.input(1), ctx.output(0)
        if dims.type not in (dtypes.INT32, dtypes.INT64):
            raise UnsupportedError(f"FILL dims '{dims.name}' is {dtypes.name(dims.type)}; supported: INT32/INT64")
        if len(value.shape or []) not in (0,) and int(np.prod(value.shape)) != 1:
            raise UnsupportedError(f"FILL value '{value.name}' must be a scalar, has shape {list(value.shape)}")
        same_quantization(value, y)
        # Constant dims fix the output shape, so it cannot follow a stacked batch.
        return FillParams(batchable=ctx.const(0) is None)

    def eval(self, p: FillParams, inputs):
        dims, value = inputs
        shape = [int(d) for d in np.asarray(dims).reshape(-1)]
        if any(d < 0 for d in shape):
            raise EdgequantError(f"FILL dims {shape} has a negative entry")
        return [np.full(shape, np.asarray(value).reshape(-1)[0], dtype=value.dtype)]
