"""SLICE: x[begin : begin + size] on every axis (size -1 = to the end); any type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import EdgequantError, UnsupportedError
from . import Kernel, kernel
from ._shape_value import from_shape_op
from .pack import same_quantization


@dataclass(frozen=True)
class SliceParams:
    index: tuple | None  # slices resolved in prepare (constant begin/size), else None
    batchable: bool


def _slices(begin, size, shape) -> tuple:
    b = [int(v) for v in np.asarray(begin).reshape(-1)]
    s = [int(v) for v in np.asarray(size).reshape(-1)]
    if len(b) != len(shape) or len(s) != len(shape):
        raise EdgequantError(f"SLICE begin {b} / size {s} do not match rank {len(shape)}")
    out = []
    for a, (b0, s0, d) in enumerate(zip(b, s, shape)):
        end = d if s0 == -1 else b0 + s0
        if not (0 <= b0 <= d and b0 <= end <= d):
            raise EdgequantError(f"SLICE axis {a}: begin {b0} size {s0} out of range for size {d}")
        out.append(slice(b0, end))
    return tuple(out)


@kernel("SLICE")
class Slice(Kernel):
    """reference: lite/kernels/slice.cc (reference_ops::Slice, a copy). begin/size int32 or int64."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        for i in (1, 2):
            if ctx.input(i).type not in (dtypes.INT32, dtypes.INT64):
                raise UnsupportedError(f"SLICE input {i} '{ctx.input(i).name}' must be INT32/INT64")
        same_quantization(x, y)
        begin, size = ctx.const(1), ctx.const(2)
        if begin is None or size is None:
            return SliceParams(None, False)
        shape = list(x.shape or [])
        try:
            index = _slices(begin, size, shape)
        except EdgequantError as e:
            raise UnsupportedError(str(e)) from None
        # The whole leading axis is kept: a batch stacked along it can pass through untouched.
        batchable = bool(shape) and index[0] == slice(0, shape[0])
        if batchable:
            index = (slice(None),) + index[1:]
        elif from_shape_op(ctx, 0):
            batchable = True  # a cut of a shape vector, not of the samples (see _shape_value)
        return SliceParams(index, batchable)

    def eval(self, p: SliceParams, inputs):
        x = inputs[0]
        index = p.index if p.index is not None else _slices(inputs[1], inputs[2], x.shape)
        return [x[index]]
