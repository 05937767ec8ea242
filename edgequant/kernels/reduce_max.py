"""REDUCE_MAX: max over constant axes (float32, int8/int16 raw values with shared params, int32/int64)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._reduce import reduce_axes
from .pack import same_quantization


@dataclass(frozen=True)
class ReduceMaxParams:
    axes: tuple
    keep_dims: bool
    batchable: bool


@kernel("REDUCE_MAX")
class ReduceMax(Kernel):
    """reference: lite/kernels/reduce.cc EvalType<ReduceMax> (a max, so quantized values pass through
    when input and output share scale and zero point)."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type not in (dtypes.FLOAT32, dtypes.INT8, dtypes.UINT8, dtypes.INT16, dtypes.INT32, dtypes.INT64):
            raise UnsupportedError(f"REDUCE_MAX of {dtypes.name(x.type)}")
        same_quantization(x, y)
        axes = reduce_axes(ctx, len(x.shape or []))
        keep = bool(op.options.keep_dims) if op.options is not None else False
        return ReduceMaxParams(axes, keep, 0 not in axes)

    def eval(self, p: ReduceMaxParams, inputs):
        x = inputs[0]
        return [np.max(x, axis=p.axes, keepdims=p.keep_dims)]
