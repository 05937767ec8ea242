"""PACK: stack N same-shaped tensors along a new axis (any type; quantized inputs share the output's params)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import ModelFormatError, UnsupportedError
from . import Kernel, kernel
from ._common import scale_zp

QUANT_TYPES = (dtypes.INT8, dtypes.INT16, dtypes.UINT8)


def same_quantization(x, y) -> None:
    """Data-movement ops copy raw values: a quantized input must carry the output's scale and zero point."""
    if y.type != x.type:
        raise UnsupportedError(f"input '{x.name}' is {dtypes.name(x.type)} but output '{y.name}' is "
                               f"{dtypes.name(y.type)}")
    if y.type in QUANT_TYPES and x.quantization is not None and x.quantization.scale is not None \
            and len(x.quantization.scale) and scale_zp(x) != scale_zp(y):
        raise UnsupportedError(f"input '{x.name}' {scale_zp(x)} and output '{y.name}' {scale_zp(y)} have different "
                               f"quantization (scale, zero point)")


@dataclass(frozen=True)
class PackParams:
    axis: int
    batchable: bool


@kernel("PACK")
class Pack(Kernel):
    """reference: lite/kernels/pack.cc (reference_ops::Pack, a copy). The output axis may be negative
    (counted on the output rank). Int8/int16 inputs must carry the output's scale and zero point, as
    pack.cc checks."""

    def prepare(self, ctx, op):
        o = op.options
        n = int(o.values_count) if o is not None else ctx.n_inputs
        if n != ctx.n_inputs or n < 1:
            raise ModelFormatError(f"PACK values_count {n} but {ctx.n_inputs} inputs")
        x0, y = ctx.input(0), ctx.output(0)
        rank = len(x0.shape or [])
        axis = int(o.axis) if o is not None else 0
        if axis < 0:
            axis += rank + 1
        if not 0 <= axis <= rank:
            raise UnsupportedError(f"PACK axis {o.axis} out of range for inputs of rank {rank}")
        for i in range(n):
            t = ctx.input(i)
            if list(t.shape or []) != list(x0.shape or []):
                raise ModelFormatError(f"PACK inputs have different shapes {list(x0.shape or [])} and "
                                       f"{list(t.shape or [])}")
            same_quantization(t, y)
        # Scalars (e.g. the batch size from SHAPE) carry no batch axis; stacking along axis 0 of
        # batched tensors would move the batch away from the front, so that case runs per sample.
        batchable = rank == 0 or axis > 0
        return PackParams(axis, batchable)

    def eval(self, p: PackParams, inputs):
        return [np.stack(inputs, axis=p.axis)]
