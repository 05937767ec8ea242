"""STRIDED_SLICE: any type (begin/end/shrink masks, offset; no ellipsis or new-axis masks)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnsupportedError
from . import Kernel, kernel
from ._shape_value import from_shape_op


@dataclass(frozen=True)
class StridedSliceParams:
    index: tuple  # python slices / ints, one per input dim
    batchable: bool


def _axis_slice(dim: int, b: int, e: int, s: int, bmask: bool, emask: bool, shrink: bool, offset: bool):
    """StartForAxis / StopForAxis of strided_slice_logic.h as a python slice (or int for shrink)."""
    if s == 0:
        raise UnsupportedError("stride 0")
    if offset:
        e = b + e
    if shrink:
        i = b + dim if b < 0 else b
        if not 0 <= i < dim:
            raise UnsupportedError(f"shrink index {b} out of range for dim {dim}")
        return i
    if s > 0:
        start = 0 if bmask else min(max(b + dim if b < 0 else b, 0), dim)
        stop = dim if emask else min(max(e + dim if e < 0 else e, 0), dim)
        return slice(start, stop, s)
    start = dim - 1 if bmask else min(max(b + dim if b < 0 else b, -1), dim - 1)
    stop = -1 if emask else min(max(e + dim if e < 0 else e, -1), dim - 1)
    return slice(start, None if stop < 0 else stop, s)


@kernel("STRIDED_SLICE")
class StridedSlice(Kernel):
    """reference_ops::StridedSlice with strided_slice_logic.h's clamping of begin/end per axis."""

    def prepare(self, ctx, op):
        x = ctx.input(0)
        shape = list(x.shape)
        begin = ctx.require_const(1, "begin").reshape(-1).tolist()
        end = ctx.require_const(2, "end").reshape(-1).tolist()
        strides = ctx.require_const(3, "strides").reshape(-1).tolist() if ctx.n_inputs > 3 else [1] * len(begin)
        o = op.options
        bm, em, sm = (o.begin_mask, o.end_mask, o.shrink_axis_mask) if o is not None else (0, 0, 0)
        if o is not None and (o.ellipsis_mask or o.new_axis_mask):
            raise UnsupportedError("ellipsis_mask / new_axis_mask")
        offset = bool(getattr(o, "offset", False)) if o is not None else False
        index = []
        for a, dim in enumerate(shape):
            if a < len(begin):
                index.append(_axis_slice(dim, int(begin[a]), int(end[a]), int(strides[a]), bool(bm >> a & 1),
                                         bool(em >> a & 1), bool(sm >> a & 1), offset))
            else:
                index.append(slice(None))
        first = index[0] if index else slice(None)
        batchable = isinstance(first, slice) and first.step == 1 and first.start == 0 and \
            first.stop == (shape[0] if shape else 0)
        if batchable:
            index[0] = slice(None)
        elif from_shape_op(ctx, 0):
            batchable = True  # a cut of a shape vector, not of the samples (see _shape_value)
        return StridedSliceParams(tuple(index), batchable)

    def eval(self, p: StridedSliceParams, inputs):
        return [inputs[0][p.index].copy()]
