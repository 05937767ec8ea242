"""GATHER: take slices of params along an axis at the given indices (with batch_dims); any type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import EdgequantError, UnsupportedError
from . import Kernel, kernel
from ._shape_value import from_shape_op
from .pack import same_quantization


@dataclass(frozen=True)
class GatherParams:
    axis: int
    batch_dims: int
    batchable: bool


@kernel("GATHER")
class Gather(Kernel):
    """reference: lite/kernels/gather.cc (reference_ops::Gather). Output shape is
    ``params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis+1:]``; an index outside
    ``[0, params.shape[axis])`` is an error, as in the reference."""

    def prepare(self, ctx, op):
        params, idx, y = ctx.input(0), ctx.input(1), ctx.output(0)
        if idx.type not in (dtypes.INT16, dtypes.INT32, dtypes.INT64):
            raise UnsupportedError(f"GATHER indices '{idx.name}' are {dtypes.name(idx.type)}; "
                                   f"supported: INT16/INT32/INT64")
        same_quantization(params, y)
        rank, irank = len(params.shape or []), len(idx.shape or [])
        o = op.options
        axis = int(o.axis) if o is not None else 0
        bd = int(o.batch_dims) if o is not None else 0
        if axis < 0:
            axis += rank
        if bd < 0:
            bd += irank
        if not 0 <= axis < rank or not 0 <= bd <= min(axis, irank):
            raise UnsupportedError(f"GATHER axis {axis} / batch_dims {bd} out of range (params rank {rank}, "
                                   f"indices rank {irank})")
        p_const, i_const = ctx.const(0) is not None, ctx.const(1) is not None
        if p_const and i_const:
            batchable = True
        elif i_const and from_shape_op(ctx, 0):
            batchable = True  # entries of a shape vector, not samples (see _shape_value)
        elif p_const:  # indices stacked: only their leading axis leads the output when axis is 0
            batchable = axis == 0 and bd == 0 and irank >= 1
        elif i_const:
            batchable = axis > 0 and bd == 0
        else:
            batchable = bd >= 1
        return GatherParams(axis, bd, batchable)

    def eval(self, p: GatherParams, inputs):
        params, idx = inputs
        n = params.shape[p.axis]
        idx = np.asarray(idx, np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise EdgequantError(f"GATHER index out of range [0, {n}): min {idx.min()}, max {idx.max()}")
        if p.batch_dims == 0:
            return [np.take(params, idx, axis=p.axis)]
        lead = params.shape[:p.batch_dims]
        if tuple(idx.shape[:p.batch_dims]) != tuple(lead):
            raise EdgequantError(f"GATHER batch dims differ: params {list(lead)}, indices "
                                 f"{list(idx.shape[:p.batch_dims])}")
        b = int(np.prod(lead))
        pf = params.reshape((b,) + params.shape[p.batch_dims:])
        jf = idx.reshape((b,) + idx.shape[p.batch_dims:])
        out = np.stack([np.take(pf[k], jf[k], axis=p.axis - p.batch_dims) for k in range(b)])
        return [out.reshape(tuple(lead) + out.shape[1:])]
