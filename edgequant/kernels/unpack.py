"""UNPACK: split a tensor into its slices along one axis (any type; quantization passes through)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelFormatError, UnsupportedError
from . import Kernel, kernel
from .pack import same_quantization


@dataclass(frozen=True)
class UnpackParams:
    axis: int
    num: int
    batchable: bool


@kernel("UNPACK")
class Unpack(Kernel):
    """reference: lite/kernels/unpack.cc (reference_ops::Unpack, a copy); negative axis counts from the end."""

    def prepare(self, ctx, op):
        x = ctx.input(0)
        shape = list(x.shape or [])
        o = op.options
        axis = int(o.axis) if o is not None else 0
        if axis < 0:
            axis += len(shape)
        if not 0 <= axis < len(shape):
            raise UnsupportedError(f"UNPACK axis {o.axis if o is not None else 0} out of range for rank {len(shape)}")
        num = int(o.num) if o is not None and o.num else shape[axis]
        if num != shape[axis] or num != ctx.n_outputs:
            raise ModelFormatError(f"UNPACK num {num}, axis size {shape[axis]}, {ctx.n_outputs} outputs")
        for i in range(ctx.n_outputs):
            same_quantization(x, ctx.output(i))
        return UnpackParams(axis, num, axis != 0)

    def eval(self, p: UnpackParams, inputs):
        x = inputs[0]
        return [x.take(i, axis=p.axis) for i in range(p.num)]
