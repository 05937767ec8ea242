"""RESIZE_BILINEAR: NHWC bilinear resize (float32; int8/int16 with TFLite's 10-bit fixed-point weights)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes, qmath
from ..errors import UnsupportedError
from . import Kernel, kernel
from .pack import same_quantization
from .resize_nearest_neighbor import output_size

F32 = np.float32


def _scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    if align_corners and out_size > 1:
        return F32(F32(in_size - 1) / F32(out_size - 1))
    return F32(F32(in_size) / F32(out_size))


def _cdiv(a: np.ndarray, b: int) -> np.ndarray:
    """C++ integer division (truncates toward zero)."""
    return np.sign(a) * (np.abs(a) // b)


def float_coords(in_size, out_size, ac, hp):
    """ComputeInterpolationValues for every output coordinate: (scaled value, lower, upper)."""
    scale = _scale(in_size, out_size, ac)
    v = np.arange(out_size, dtype=np.float32)
    scaled = (v + F32(0.5)) * scale - F32(0.5) if hp else v * scale
    lower = np.maximum(np.floor(scaled).astype(np.int64), 0)
    upper = np.minimum(np.ceil(scaled).astype(np.int64), in_size - 1)
    return scaled.astype(np.float32), lower, upper


def int_coords(in_size, out_size, ac, hp):
    """ComputeInterpolationValuesInteger: 10-bit scaled values and bounds."""
    scale_10 = int(qmath.round_half_away(F32(_scale(in_size, out_size, ac) * F32(1 << 10))))
    v = np.arange(out_size, dtype=np.int64)
    scaled = v * scale_10 + scale_10 // 2 - (1 << 9) if hp else v * scale_10
    lower = np.maximum(_cdiv(scaled, 1 << 10), 0)
    upper = np.minimum(_cdiv(scaled + (1 << 10) - 1, 1 << 10), in_size - 1)
    return scaled, lower, upper


@dataclass(frozen=True)
class ResizeBilinearParams:
    kind: str
    ys: Any
    xs: Any
    batchable: bool = True


@kernel("RESIZE_BILINEAR")
class ResizeBilinear(Kernel):
    """reference_ops::ResizeBilinear (float32: weights from the float source coordinate) and
    reference_ops::ResizeBilinearInteger (int8/int16: coordinates in 1/1024 units, the four products
    summed in int64, rounded half away from zero by ``(sum +- 2**19) / 2**20``)."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        shape = list(x.shape or [])
        if len(shape) != 4:
            raise UnsupportedError(f"RESIZE_BILINEAR needs a 4-D NHWC input, got {shape}")
        if x.type not in (dtypes.FLOAT32, dtypes.INT8, dtypes.INT16):
            raise UnsupportedError(f"RESIZE_BILINEAR of {dtypes.name(x.type)}")
        same_quantization(x, y)
        oh, ow = output_size(ctx, "RESIZE_BILINEAR")
        o = op.options
        ac = bool(o.align_corners) if o is not None else False
        hp = bool(o.half_pixel_centers) if o is not None else False
        if x.type == dtypes.FLOAT32:
            return ResizeBilinearParams("float", float_coords(shape[1], oh, ac, hp), float_coords(shape[2], ow, ac, hp))
        return ResizeBilinearParams("int", int_coords(shape[1], oh, ac, hp), int_coords(shape[2], ow, ac, hp))

    def eval(self, p: ResizeBilinearParams, inputs):
        x = inputs[0]
        (sy, y0, y1), (sx, x0, x1) = p.ys, p.xs
        if p.kind == "float":
            dy = (sy - y0.astype(np.float32))[None, :, None, None]
            dx = (sx - x0.astype(np.float32))[None, None, :, None]
            one = F32(1)
            r0, r1 = x[:, y0], x[:, y1]
            out = (r0[:, :, x0] * (one - dy) * (one - dx) + r1[:, :, x0] * dy * (one - dx)
                   + r0[:, :, x1] * (one - dy) * dx + r1[:, :, x1] * dy * dx)
            return [out.astype(np.float32)]
        wy = (sy - (1 << 10) * y0)[None, :, None, None]
        wx = (sx - (1 << 10) * x0)[None, None, :, None]
        xi = x.astype(np.int64)
        r0, r1 = xi[:, y0], xi[:, y1]
        full = 1 << 10
        out20 = (r0[:, :, x0] * (full - wy) * (full - wx) + r1[:, :, x0] * wy * (full - wx)
                 + r0[:, :, x1] * (full - wy) * wx + r1[:, :, x1] * wy * wx)
        rnd = np.where(out20 > 0, 1 << 19, -(1 << 19))
        return [_cdiv(out20 + rnd, 1 << 20).astype(x.dtype)]
