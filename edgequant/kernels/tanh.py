"""TANH: float32 and int8 (LiteRT: 256-entry LUT; tflite-micro: gemmlowp fixed point)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import scale_zp
from ._lut import check_int8, lut_int8, prepare_fixed_point, tanh_f32


@dataclass(frozen=True)
class Params:
    kind: str  # "float" | "lut" | "fixed"
    table: Any = None
    fixed: Any = None


@kernel("TANH")
class Tanh(Kernel):
    """Float: reference_ops (tanh in float32). int8 under LiteRT: activations.cc builds a LUT with
    LUTPopulate<int8_t> in Prepare for kReference; under tflite-micro: reference_integer_ops::Tanh
    (gemmlowp fixed point, MultiplyByQuantizedMultiplier with double rounding). int16 is not implemented."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x.type == dtypes.FLOAT32:
            return Params("float")
        if x.type == dtypes.INT16:
            raise UnsupportedError("int16 TANH is not implemented (needs the reference 256-entry sigmoid table)")
        check_int8(x, y, 1.0 / 128, 0, "TANH")
        if ctx.target == "tflm":
            return Params("fixed", fixed=prepare_fixed_point("tanh", x))
        in_s, in_zp = scale_zp(x)
        out_s, out_zp = scale_zp(y)
        return Params("lut", table=lut_int8(in_s, in_zp, out_s, out_zp, tanh_f32))

    def eval(self, p: Params, inputs):
        x = inputs[0]
        if p.kind == "float":
            return [(np.tanh(x)).astype(np.float32)]
        if p.kind == "lut":
            return [p.table[x.astype(np.int16) + 128]]
        return [p.fixed.run(x)]
