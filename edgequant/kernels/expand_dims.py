"""EXPAND_DIMS: insert a size-1 axis (any type)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import EdgequantError, UnsupportedError
from . import Kernel, kernel
from .pack import same_quantization


@dataclass(frozen=True)
class ExpandDimsParams:
    axis: int | None  # None: read the axis input at eval time
    batchable: bool


def _axis(a, rank: int) -> int:
    v = np.asarray(a).reshape(-1)
    if v.size != 1:
        raise EdgequantError(f"EXPAND_DIMS axis must hold one value, has {v.size}")
    axis = int(v[0])
    if axis < 0:
        axis += rank + 1
    if not 0 <= axis <= rank:
        raise EdgequantError(f"EXPAND_DIMS axis {int(v[0])} out of range for rank {rank}")
    return axis


@kernel("EXPAND_DIMS")
class ExpandDims(Kernel):
    """reference: lite/kernels/expand_dims.cc (a reshape); a negative axis counts from rank + 1."""

    def prepare(self, ctx, op):
        x, ax, y = ctx.input(0), ctx.input(1), ctx.output(0)
        if ax.type not in (dtypes.INT32, dtypes.INT64):
            raise UnsupportedError(f"EXPAND_DIMS axis '{ax.name}' is {dtypes.name(ax.type)}; supported: INT32/INT64")
        same_quantization(x, y)
        const = ctx.const(1)
        if const is None:
            return ExpandDimsParams(None, False)
        try:
            axis = _axis(const, len(x.shape or []))
        except EdgequantError as e:
            raise UnsupportedError(str(e)) from None
        return ExpandDimsParams(axis, axis != 0)

    def eval(self, p: ExpandDimsParams, inputs):
        x = inputs[0]
        axis = p.axis if p.axis is not None else _axis(inputs[1], x.ndim)
        return [np.expand_dims(x, axis)]
