"""SUM: sum over constant axes (float32 in float32, int32/int64 wrapping like C++)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._reduce import reduce_axes


@dataclass(frozen=True)
class SumParams:
    axes: tuple
    keep_dims: bool
    batchable: bool


@kernel("SUM")
class Sum(Kernel):
    """reference: lite/kernels/reduce.cc EvalSum (reference_ops::ReduceGeneric with +). The quantized
    int8/int16 sum (QuantizedMeanOrSum with compute_sum) is not implemented: such models raise
    UnsupportedError in prepare."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type not in (dtypes.FLOAT32, dtypes.INT32, dtypes.INT64) or x.type != y.type:
            raise UnsupportedError(f"SUM of {dtypes.name(x.type)}; supported: FLOAT32, INT32, INT64 "
                                   f"(the quantized sum is not implemented)")
        axes = reduce_axes(ctx, len(x.shape or []))
        keep = bool(op.options.keep_dims) if op.options is not None else False
        return SumParams(axes, keep, 0 not in axes)

    def eval(self, p: SumParams, inputs):
        x = inputs[0]
        return [np.sum(x, axis=p.axes, keepdims=p.keep_dims, dtype=x.dtype)]
