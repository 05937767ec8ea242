"""DIV: elementwise a / b with broadcasting and fused activation (float32, int32)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import EdgequantError, UnsupportedError
from . import Kernel, kernel
from ._common import apply_float_activation, broadcast_shape, float_activation_range
from ._elementwise import batchable_binary


@dataclass(frozen=True)
class DivParams:
    is_float: bool
    act_min: float
    act_max: float
    batchable: bool


@kernel("DIV")
class Div(Kernel):
    """reference: lite/kernels/div.cc. float32: ``a / b`` then the activation clamp; int32: C++ ``a / b``
    (truncating; a zero divisor is an error) then the clamp. LiteRT's quantized DIV is uint8 only, so
    int8/int16 models are rejected here as there."""

    def prepare(self, ctx, op):
        a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
        if not (a.type == b.type == y.type) or a.type not in (dtypes.FLOAT32, dtypes.INT32):
            raise UnsupportedError(f"DIV of {dtypes.name(a.type)} and {dtypes.name(b.type)}; supported: "
                                   f"FLOAT32, INT32 (LiteRT has no int8/int16 DIV)")
        broadcast_shape(a.shape or [], b.shape or [])
        act = op.options.fused_activation_function if op.options is not None else 0
        lo, hi = float_activation_range(act)
        return DivParams(a.type == dtypes.FLOAT32, lo, hi, batchable_binary(ctx, len(y.shape or [])))

    def eval(self, p: DivParams, inputs):
        a, b = inputs
        if p.is_float:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.divide(a, b, dtype=np.float32)
            return [apply_float_activation(y, p.act_min, p.act_max)]
        if np.any(b == 0):
            raise EdgequantError("DIV by zero")
        a64, b64 = a.astype(np.int64), b.astype(np.int64)
        q = np.abs(a64) // np.abs(b64) * np.sign(a64) * np.sign(b64)  # C truncation toward zero
        lo = -(2**31) if p.act_min == -np.inf else int(p.act_min)
        hi = 2**31 - 1 if p.act_max == np.inf else int(p.act_max)
        return [np.clip(q, lo, hi).astype(np.int32)]
