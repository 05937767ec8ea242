"""SPLIT_V: cut a tensor into parts of the given sizes along an axis (one size may be -1); any type."""

from __future__ import annotations

import numpy as np

from ..errors import ModelFormatError
from . import Kernel, kernel
from .pack import same_quantization
from .split import SplitParams, resolve_axis


@kernel("SPLIT_V")
class SplitV(Kernel):
    """reference: lite/kernels/split_v.cc. Inputs: value, size_splits (const), axis (const)."""

    def prepare(self, ctx, op):
        x = ctx.input(0)
        shape = list(x.shape or [])
        axis = resolve_axis(ctx.require_const(2, "SPLIT_V axis"), len(shape), "SPLIT_V")
        sizes = [int(s) for s in ctx.require_const(1, "SPLIT_V size_splits").reshape(-1)]
        if sizes.count(-1) > 1:
            raise ModelFormatError(f"SPLIT_V size_splits {sizes} has more than one -1")
        if -1 in sizes:
            sizes[sizes.index(-1)] = shape[axis] - (sum(sizes) + 1)
        if sum(sizes) != shape[axis] or any(s < 0 for s in sizes) or len(sizes) != ctx.n_outputs:
            raise ModelFormatError(f"SPLIT_V sizes {sizes} do not split axis size {shape[axis]} "
                                   f"into {ctx.n_outputs} outputs")
        for i in range(ctx.n_outputs):
            same_quantization(x, ctx.output(i))
        return SplitParams(axis, tuple(int(c) for c in np.cumsum(sizes)[:-1]), axis != 0)

    def eval(self, p: SplitParams, inputs):
        return np.split(inputs[0], list(p.sections), axis=p.axis)
