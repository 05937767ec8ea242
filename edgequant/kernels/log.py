"""LOG: float32 elementwise log; int8/int16 through TFLite's lookup tables (log of x <= 0 -> output min)."""

from __future__ import annotations

import numpy as np

from . import Kernel, kernel
from .exp import F32, LutParams, eval_lut_op, f32_of, prepare_lut_op


def _log_f32(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x.astype(np.float64)).astype(np.float32)


def _transform(out_scale: float, out_zp: int, dtype):
    output_min = F32(F32(np.iinfo(dtype).min - out_zp) * F32(out_scale))

    def fn(v):
        return output_min if v <= 0 else f32_of(np.log, v)
    return fn


@kernel("LOG")
class Log(Kernel):
    """reference: lite/kernels/elementwise.cc LogEval / LogLUTPrepare: float32 ``std::log``; int8/int16
    tables of ``log(v)`` where ``v > 0`` and the output's minimum real value otherwise."""

    def prepare(self, ctx, op):
        return prepare_lut_op(ctx, "LOG", _log_f32, _transform)

    def eval(self, p: LutParams, inputs):
        return [eval_lut_op(p, inputs[0], _log_f32)]
