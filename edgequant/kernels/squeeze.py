"""SQUEEZE: drop size-1 dimensions (all of them, or the listed ones); any type."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelFormatError
from . import Kernel, kernel
from .pack import same_quantization


@dataclass(frozen=True)
class SqueezeParams:
    axes: tuple
    batchable: bool


@kernel("SQUEEZE")
class Squeeze(Kernel):
    """reference: lite/kernels/squeeze.cc (a reshape). The squeezed axes are resolved once from the
    model's input shape, so a batch stacked along axis 0 under ``run()`` is not squeezed away."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        shape = list(x.shape or [])
        dims = list(op.options.squeeze_dims or []) if op.options is not None else []
        if dims:
            axes = sorted({d + len(shape) if d < 0 else d for d in dims})
            for a in axes:
                if not 0 <= a < len(shape) or shape[a] != 1:
                    raise ModelFormatError(f"SQUEEZE dim {a} is not a size-1 axis of shape {shape}")
        else:
            axes = [a for a, d in enumerate(shape) if d == 1]
        same_quantization(x, y)
        return SqueezeParams(tuple(axes), 0 not in axes)

    def eval(self, p: SqueezeParams, inputs):
        return [inputs[0].squeeze(axis=p.axes) if p.axes else inputs[0]]
