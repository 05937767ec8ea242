"""SQRT: float32 elementwise sqrt; int8/int16 by dequantize -> sqrtf -> truncating requantize."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import EdgequantError, UnsupportedError
from . import Kernel, kernel
from ._common import scale_zp


@dataclass(frozen=True)
class SqrtParams:
    kind: str
    in_scale: float = 0.0
    in_zp: int = 0
    out_scale: float = 0.0
    out_zp: int = 0
    batchable: bool = True


@kernel("SQRT")
class Sqrt(Kernel):
    """reference: lite/kernels/elementwise.cc SqrtEval / SqrtEvalQuantized: ``f = s_in * (q - zp_in)``
    (float32; negative is an error), ``q_out = (int)(sqrtf(f) / s_out) + zp_out`` (truncation), clamp."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type != y.type or x.type not in (dtypes.FLOAT32, dtypes.INT8, dtypes.INT16):
            raise UnsupportedError(f"SQRT of {dtypes.name(x.type)} into {dtypes.name(y.type)}")
        if x.type == dtypes.FLOAT32:
            return SqrtParams("float")
        si, zi = scale_zp(x)
        so, zo = scale_zp(y)
        return SqrtParams("q", si, zi, so, zo)

    def eval(self, p: SqrtParams, inputs):
        x = inputs[0]
        if p.kind == "float":
            with np.errstate(invalid="ignore"):
                return [np.sqrt(x)]
        f = np.float32(p.in_scale) * (x.astype(np.int64) - p.in_zp).astype(np.float32)
        if np.any(f < 0):
            raise EdgequantError("SQRT is only defined for non-negative values")
        q = np.trunc(np.sqrt(f) / np.float32(p.out_scale)).astype(np.int64) + p.out_zp
        info = np.iinfo(x.dtype)
        return [np.clip(q, info.min, info.max).astype(x.dtype)]
