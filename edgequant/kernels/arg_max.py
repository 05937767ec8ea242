"""ARG_MAX: index of the largest value along one axis (first one on ties); int32 or int64 output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from .split import resolve_axis

_IN = (dtypes.FLOAT32, dtypes.INT8, dtypes.UINT8, dtypes.INT16, dtypes.INT32, dtypes.INT64, dtypes.BOOL)


@dataclass(frozen=True)
class ArgMaxParams:
    axis: int
    out_dtype: Any
    batchable: bool


@kernel("ARG_MAX")
class ArgMax(Kernel):
    """reference_ops::ArgMinMax with std::greater (lite/kernels/arg_min_max.cc): scans the axis and
    keeps the first index of the maximum; compares raw values (quantization is monotonic)."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type not in _IN:
            raise UnsupportedError(f"ARG_MAX input '{x.name}' is {dtypes.name(x.type)}")
        if y.type not in (dtypes.INT32, dtypes.INT64):
            raise UnsupportedError(f"ARG_MAX output '{y.name}' is {dtypes.name(y.type)}; supported: INT32/INT64")
        axis = resolve_axis(ctx.require_const(1, "ARG_MAX axis"), len(x.shape or []), "ARG_MAX")
        return ArgMaxParams(axis, dtypes.to_numpy(y.type), axis != 0)

    def eval(self, p: ArgMaxParams, inputs):
        return [np.argmax(inputs[0], axis=p.axis).astype(p.out_dtype)]
