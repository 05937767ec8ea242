"""SPLIT: cut a tensor into num_splits equal parts along an axis (any type)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelFormatError, UnsupportedError
from . import Kernel, kernel
from .pack import same_quantization


@dataclass(frozen=True)
class SplitParams:
    axis: int
    sections: tuple  # cut points along the axis (for SPLIT_V too)
    batchable: bool


def resolve_axis(a, rank: int, what: str) -> int:
    v = np.asarray(a).reshape(-1)
    if v.size != 1:
        raise UnsupportedError(f"{what} axis must hold one value, has {v.size}")
    axis = int(v[0]) + rank if int(v[0]) < 0 else int(v[0])
    if not 0 <= axis < rank:
        raise UnsupportedError(f"{what} axis {int(v[0])} out of range for rank {rank}")
    return axis


@kernel("SPLIT")
class Split(Kernel):
    """reference: lite/kernels/split.cc (reference_ops::Split, copies). Inputs: axis (const), value."""

    def prepare(self, ctx, op):
        x = ctx.input(1)
        shape = list(x.shape or [])
        axis = resolve_axis(ctx.require_const(0, "SPLIT axis"), len(shape), "SPLIT")
        n = int(op.options.num_splits) if op.options is not None else ctx.n_outputs
        if n != ctx.n_outputs or n <= 0 or shape[axis] % n:
            raise ModelFormatError(f"SPLIT of size {shape[axis]} into {n} parts with {ctx.n_outputs} outputs")
        for i in range(n):
            same_quantization(x, ctx.output(i))
        step = shape[axis] // n
        return SplitParams(axis, tuple(step * k for k in range(1, n)), axis != 0)

    def eval(self, p: SplitParams, inputs):
        return np.split(inputs[1], list(p.sections), axis=p.axis)
