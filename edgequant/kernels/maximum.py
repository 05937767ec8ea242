"""MAXIMUM: elementwise max with broadcasting (float32, int8/int16 on raw values, int32/int64)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import broadcast_shape
from ._elementwise import batchable_binary

_TYPES = (dtypes.FLOAT32, dtypes.INT8, dtypes.UINT8, dtypes.INT16, dtypes.INT32, dtypes.INT64)


@dataclass(frozen=True)
class MinMaxParams:
    batchable: bool


def prepare_min_max(ctx, what: str) -> MinMaxParams:
    """lite/kernels/maximum_minimum.cc compares raw values: inputs and output share one type (and, when
    quantized, the same scale and zero point, which the converter guarantees; we check it)."""
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    if not (a.type == b.type == y.type) or a.type not in _TYPES:
        raise UnsupportedError(f"{what} of {dtypes.name(a.type)} and {dtypes.name(b.type)} into {dtypes.name(y.type)}")
    if a.type in (dtypes.INT8, dtypes.UINT8, dtypes.INT16):
        from .pack import same_quantization
        same_quantization(a, y)
        same_quantization(b, y)
    broadcast_shape(a.shape or [], b.shape or [])
    return MinMaxParams(batchable_binary(ctx, len(y.shape or [])))


@kernel("MAXIMUM")
class Maximum(Kernel):
    """reference_ops::MaximumMinimumBroadcastSlow with std::max (NaN handling: the float path of the
    reference returns the first operand when a comparison with NaN is false; we use np.maximum)."""

    def prepare(self, ctx, op):
        return prepare_min_max(ctx, "MAXIMUM")

    def eval(self, p, inputs):
        return [np.maximum(inputs[0], inputs[1])]
