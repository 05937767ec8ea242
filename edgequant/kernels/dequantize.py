"""DEQUANTIZE: int8/int16/uint8 (per-tensor or per-channel) and float16 -> float32."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from ..graph import channel_axis
from . import Kernel, kernel
from ._common import scales, zero_points


@dataclass(frozen=True)
class DequantizeParams:
    kind: str  # "f16" | "affine"
    scale: Any = None
    zero_point: Any = None
    const: Any = None  # precomputed result for constant inputs (weights behind DEQUANTIZE)
    batchable: bool = True


@kernel("DEQUANTIZE")
class Dequantize(Kernel):
    """reference_ops::Dequantize / PerChannelDequantize: ``float(scale * (q - zero_point))`` in float32;
    float16 inputs are widened exactly. Constant inputs (float16 or int8 weights) are converted once in
    prepare. ``target="tflm"``: a per-channel input is dequantized with channel 0's scale and zero point, as
    tflite-micro does (the dequantize_i8_per_channel golden holds both runtimes' outputs)."""

    def prepare(self, ctx, op):
        x = ctx.input(0)
        if x.type == dtypes.FLOAT16:
            p = DequantizeParams("f16")
        elif x.type in (dtypes.INT8, dtypes.INT16, dtypes.UINT8):
            s = scales(x)
            zp = zero_points(x)
            if s.size > 1 and ctx.target == "tflm":
                # tflite-micro copies only the first scale and zero point into its params (dequantize_common.cc)
                # and applies them to every element; `edgequant mcu` flags such models (per-channel-dequantize)
                s, zp = s[:1], zp[:1]
            if s.size > 1:
                shape = [1] * len(x.shape)
                shape[channel_axis(x)] = s.size
                s = s.reshape(shape)
                zp = zp.reshape(shape) if zp.size > 1 else zp
            p = DequantizeParams("affine", s, zp)
        else:
            raise UnsupportedError(f"DEQUANTIZE from {dtypes.name(x.type)}")
        c = ctx.const(0)
        if c is not None:
            return DequantizeParams(p.kind, p.scale, p.zero_point, self.eval(p, [c])[0], batchable=False)
        return p

    def eval(self, p: DequantizeParams, inputs):
        if p.const is not None:
            return [p.const]
        x = inputs[0]
        if p.kind == "f16":
            return [x.astype(np.float32)]
        d = (x.astype(np.int64) - p.zero_point).astype(np.float32)
        return [np.multiply(d, p.scale, dtype=np.float32)]
