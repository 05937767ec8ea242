"""RESHAPE (any type): values unchanged, new shape from the output tensor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import Kernel, kernel


@dataclass(frozen=True)
class ReshapeParams:
    shape: tuple
    batchable: bool


@kernel("RESHAPE")
class Reshape(Kernel):
    """reference: lite/kernels/reshape.cc (a copy). The target shape is the output tensor's (the
    converter resolves the shape input / new_shape option into it). Under ``run()`` batching the
    leading dimension scales with the batch when input and output agree on it."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        shape = tuple(int(d) for d in (y.shape or []))
        if not shape:
            new = ctx.const(1) if ctx.n_inputs > 1 else None
            if new is not None and new.size:
                shape = tuple(int(d) for d in new.reshape(-1))
            elif op.options is not None and op.options.new_shape:
                shape = tuple(int(d) for d in op.options.new_shape)
        xs = list(x.shape or [])
        batchable = bool(xs) and bool(shape) and shape[0] == xs[0] and -1 not in shape[1:]
        return ReshapeParams(shape, batchable)

    def eval(self, p: ReshapeParams, inputs):
        x = inputs[0]
        shape = p.shape
        if p.batchable and shape and x.size != int(np.prod(shape)):
            shape = (-1,) + shape[1:]
        return [x.reshape(shape)]
