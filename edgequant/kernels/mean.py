"""MEAN: float32, int8/int16 (quantized mean with requantization)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from . import Kernel, kernel
from ._reduce import reduce_axes


@dataclass(frozen=True)
class MeanParams:
    kind: str
    axes: tuple
    keep_dims: bool
    batchable: bool
    q: Any = None


@kernel("MEAN")
class Mean(Kernel):
    """reference_ops::Mean (float: sum in float32, divide by the element count) and the quantized
    mean of lite/kernels/reduce.cc (see ``_reduce.QuantMean`` for the int8/int16 math)."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        axes = reduce_axes(ctx, len(x.shape or []))
        keep = bool(op.options.keep_dims) if op.options is not None else False
        batchable = 0 not in axes
        if x.type == dtypes.FLOAT32:
            return MeanParams("float", axes, keep, batchable)
        from ._reduce import prepare_quant_mean
        return MeanParams("int", axes, keep, batchable, prepare_quant_mean(x, y, axes, ctx.rounding_for("double")))

    def eval(self, p: MeanParams, inputs):
        x = inputs[0]
        if p.kind == "float":
            n = int(np.prod([x.shape[a] for a in p.axes])) if p.axes else 1
            y = x.sum(axis=p.axes, keepdims=p.keep_dims, dtype=np.float32) / np.float32(n)
            return [np.asarray(y, np.float32)]
        return [p.q.run(x, p.keep_dims)]
