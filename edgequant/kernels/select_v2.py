"""SELECT_V2: where(condition, x, y) with three-way broadcasting; any value type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import broadcast_shape
from .pack import same_quantization


@dataclass(frozen=True)
class SelectParams:
    batchable: bool


@kernel("SELECT_V2")
class SelectV2(Kernel):
    """reference_ops::BroadcastSelect5DSlow (lite/kernels/select.cc, kernel_type SELECT_V2): copies
    raw values, so quantized x and y must share the output's parameters."""

    def prepare(self, ctx, op):
        c, x, y, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
        if c.type != dtypes.BOOL:
            raise UnsupportedError(f"SELECT_V2 condition '{c.name}' is {dtypes.name(c.type)}, not BOOL")
        same_quantization(x, out)
        same_quantization(y, out)
        rank = len(broadcast_shape(c.shape or [], x.shape or [], y.shape or []))
        batchable = True
        for i in range(3):
            t = ctx.input(i)
            shape = list(t.shape or [])
            if ctx.const(i) is not None and len(shape) == rank and shape and shape[0] != 1:
                batchable = False
            if ctx.const(i) is None and len(shape) < rank:
                batchable = False
        return SelectParams(batchable)

    def eval(self, p: SelectParams, inputs):
        c, x, y = inputs
        return [np.where(c, x, y).astype(x.dtype, copy=False)]
