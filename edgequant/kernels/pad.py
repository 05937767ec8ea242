"""PAD / PADV2: any type; quantized tensors pad with the output zero point (or the given constant)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import scale_zp


@dataclass(frozen=True)
class PadParams:
    pads: tuple
    value: Any
    batchable: bool


def prepare_pad(ctx, v2: bool) -> PadParams:
    x, y = ctx.input(0), ctx.output(0)
    pads = np.asarray(ctx.require_const(1, "paddings"), np.int64).reshape(-1, 2)
    if pads.shape[0] != len(x.shape):
        raise UnsupportedError(f"paddings for {pads.shape[0]} dims on a rank-{len(x.shape)} input")
    if np.any(pads < 0):
        raise UnsupportedError("negative paddings")
    value: Any = 0
    if v2 and ctx.input(2) is not None:
        value = ctx.require_const(2, "constant_values").reshape(-1)[0]
    elif y.type in (dtypes.INT8, dtypes.INT16, dtypes.UINT8) and y.quantization is not None \
            and y.quantization.scale is not None and len(y.quantization.scale):
        value = scale_zp(y)[1]
    return PadParams(tuple(map(tuple, pads.tolist())), value, bool(pads[0].sum() == 0) if len(pads) else True)


@kernel("PAD")
class Pad(Kernel):
    """reference_ops::Pad: constant padding; quantized tensors pad with the output zero point."""

    def prepare(self, ctx, op):
        return prepare_pad(ctx, v2=False)

    def eval(self, p: PadParams, inputs):
        return [np.pad(inputs[0], p.pads, constant_values=p.value)]
