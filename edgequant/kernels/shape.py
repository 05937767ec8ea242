"""SHAPE: the input's runtime shape as an int32 or int64 vector."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel


@dataclass(frozen=True)
class ShapeParams:
    out_dtype: Any
    batchable: bool = True


@kernel("SHAPE")
class Shape(Kernel):
    """reference: lite/kernels/shape.cc (ShapeOptions.out_type int32 or int64). The shape is read from
    the array at eval time, so under ``run()`` batching it reports the real batch (the Keras Flatten
    pattern SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE stays right)."""

    def prepare(self, ctx, op):
        y = ctx.output(0)
        if y.type not in (dtypes.INT32, dtypes.INT64):
            raise UnsupportedError(f"SHAPE output '{y.name}' is {dtypes.name(y.type)}; supported: INT32/INT64")
        o = op.options
        if o is not None and o.out_type in (dtypes.INT32, dtypes.INT64) and o.out_type != y.type:
            raise UnsupportedError(f"SHAPE out_type {dtypes.name(o.out_type)} differs from output type "
                                   f"{dtypes.name(y.type)}")
        return ShapeParams(dtypes.to_numpy(y.type))

    def eval(self, p: ShapeParams, inputs):
        return [np.array(inputs[0].shape, p.out_dtype)]
