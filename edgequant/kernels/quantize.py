"""QUANTIZE: float32 -> int8/int16/uint8 (per-tensor or per-channel), and integer requantization."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from ..graph import channel_axis
from . import Kernel, kernel
from ._common import mul_by_qm, quantize_multiplier, scale_zp, scales, zero_points


@dataclass(frozen=True)
class QuantizeParams:
    kind: str  # "affine" | "requant"
    scale: Any
    zero_point: Any
    axis: Any
    qmin: int
    qmax: int
    out_dtype: Any
    input_zero_point: int = 0
    multiplier: int = 0
    shift: int = 0
    rounding: str = "double"


@kernel("QUANTIZE")
class Quantize(Kernel):
    """reference_ops::AffineQuantize / PerChannelQuantize (float -> int: ``zp + round(x / scale)``
    with the division in float32 and std::round) and reference_ops::Requantize (int -> int:
    ``MultiplyByQuantizedMultiplier(q - in_zp, m, s) + out_zp`` with m, s from
    double(in_scale) / double(out_scale))."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if y.type not in (dtypes.INT8, dtypes.INT16, dtypes.UINT8, dtypes.INT32):
            raise UnsupportedError(f"QUANTIZE to {dtypes.name(y.type)}")
        qmin, qmax = dtypes.integer_range(y.type)
        if x.type == dtypes.FLOAT32:
            s = scales(y)
            zp = zero_points(y)
            axis = channel_axis(y) if s.size > 1 else None
            if axis is not None:
                axis -= len(y.shape)  # count from the end so a larger batch keeps the channel axis
            return QuantizeParams("affine", s if s.size > 1 else s[0], zp if zp.size > 1 else int(zp[0]), axis,
                                  qmin, qmax, y.dtype)
        if x.type in (dtypes.INT8, dtypes.INT16, dtypes.UINT8):
            si, zi = scale_zp(x)
            so, zo = scale_zp(y)
            m, s = quantize_multiplier(np.float64(si) / np.float64(so), ctx.rounding_for("double"))
            return QuantizeParams("requant", so, zo, None, qmin, qmax, y.dtype, zi, m, s, ctx.rounding_for("double"))
        raise UnsupportedError(f"QUANTIZE from {dtypes.name(x.type)}")

    def eval(self, p: QuantizeParams, inputs):
        x = inputs[0]
        if p.kind == "affine":
            if p.axis is None:
                q = qmath.quantize_affine(x, p.scale, p.zero_point, p.qmin, p.qmax)
            else:
                q = qmath.quantize_affine(x, p.scale, p.zero_point, p.qmin, p.qmax, axis=p.axis)
            return [np.asarray(q).astype(p.out_dtype)]
        acc = x.astype(np.int64) - p.input_zero_point
        y = mul_by_qm(acc, p.multiplier, p.shift, p.rounding) + p.zero_point
        return [np.clip(y, p.qmin, p.qmax).astype(p.out_dtype)]
