"""ABS: float32, int32, int16 (plain), int8/int16 quantized (rescaled when scales differ)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import scale_zp


@dataclass(frozen=True)
class AbsParams:
    kind: str  # "plain" | "q"
    input_offset: int = 0
    output_offset: int = 0
    multiplier: Any = None  # None: same scale, no rescale
    shift: int = 0
    batchable: bool = True


def _quantized(t) -> bool:
    q = t.quantization
    return q is not None and q.scale is not None and len(q.scale) > 0


@kernel("ABS")
class Abs(Kernel):
    """reference: lite/kernels/elementwise.cc AbsEval / AbsEvalQuantized: ``v = |q - zp_in|``; when the
    scales differ ``MultiplyByQuantizedMultiplier(v, QuantizeMultiplier(s_in / s_out))`` (float32
    division, double rounding); ``+ zp_out``, clamp. Non-quantized int16/int32: ``std::abs``."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type != y.type or x.type not in (dtypes.FLOAT32, dtypes.INT8, dtypes.INT16, dtypes.INT32):
            raise UnsupportedError(f"ABS of {dtypes.name(x.type)} into {dtypes.name(y.type)}")
        if x.type in (dtypes.FLOAT32, dtypes.INT32) or (x.type == dtypes.INT16 and not _quantized(x)):
            return AbsParams("plain")
        si, zi = scale_zp(x)
        so, zo = scale_zp(y)
        if x.type == dtypes.INT16 and (zi or zo):
            raise UnsupportedError("int16 ABS needs zero points of 0")
        if np.float32(si) == np.float32(so):
            return AbsParams("q", zi, zo)
        m, s = qmath.quantize_multiplier(np.float64(np.float32(si) / np.float32(so)))
        return AbsParams("q", zi, zo, m, s)

    def eval(self, p: AbsParams, inputs):
        x = inputs[0]
        if p.kind == "plain":
            return [np.abs(x)]
        v = np.abs(x.astype(np.int64) - p.input_offset)
        if p.multiplier is not None:
            v = np.asarray(qmath.multiply_by_quantized_multiplier(v, p.multiplier, p.shift))
        info = np.iinfo(x.dtype)
        return [np.clip(v + p.output_offset, info.min, info.max).astype(x.dtype)]
