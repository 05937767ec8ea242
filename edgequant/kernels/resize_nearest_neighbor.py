"""RESIZE_NEAREST_NEIGHBOR: NHWC nearest-neighbour resize (any type, values copied)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import qmath
from ..errors import UnsupportedError
from . import Kernel, kernel
from .pack import same_quantization


@dataclass(frozen=True)
class ResizeNNParams:
    rows: np.ndarray  # source row per output row
    cols: np.ndarray
    batchable: bool = True


def nearest(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    """tflite::reference_ops GetNearestNeighbor for every output coordinate (float32 math)."""
    f = np.float32
    if align_corners and out_size > 1:
        scale = f(f(in_size - 1) / f(out_size - 1))
    else:
        scale = f(f(in_size) / f(out_size))
    offset = f(0.5) if half_pixel_centers else f(0)
    v = (np.arange(out_size, dtype=np.float32) + offset) * scale
    idx = (qmath.round_half_away(v) if align_corners else np.floor(v)).astype(np.int64)
    idx = np.minimum(idx, in_size - 1)
    if half_pixel_centers:
        idx = np.maximum(idx, 0)
    return idx


def output_size(ctx, what: str) -> tuple[int, int]:
    size = ctx.require_const(1, f"{what} size")
    s = [int(v) for v in size.reshape(-1)]
    if len(s) != 2 or min(s) < 1:
        raise UnsupportedError(f"{what} size {s} must be two positive values")
    return s[0], s[1]


@kernel("RESIZE_NEAREST_NEIGHBOR")
class ResizeNearestNeighbor(Kernel):
    """reference_ops::ResizeNearestNeighbor with align_corners / half_pixel_centers."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        shape = list(x.shape or [])
        if len(shape) != 4:
            raise UnsupportedError(f"RESIZE_NEAREST_NEIGHBOR needs a 4-D NHWC input, got {shape}")
        same_quantization(x, y)
        oh, ow = output_size(ctx, "RESIZE_NEAREST_NEIGHBOR")
        o = op.options
        ac = bool(o.align_corners) if o is not None else False
        hp = bool(o.half_pixel_centers) if o is not None else False
        return ResizeNNParams(nearest(shape[1], oh, ac, hp), nearest(shape[2], ow, ac, hp))

    def eval(self, p: ResizeNNParams, inputs):
        return [inputs[0][:, p.rows][:, :, p.cols]]
