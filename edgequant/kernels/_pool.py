"""Shared preparation of AVERAGE_POOL_2D and MAX_POOL_2D."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from ._common import Window, check_type, float_activation_range, quant_activation_range, scale_zp


@dataclass(frozen=True)
class PoolParams:
    kind: str  # "float" | "int"
    win: Window
    act_min: Any
    act_max: Any
    counts: np.ndarray  # (OH, OW, 1) in-range taps per output
    dtype: Any


def prepare_pool(ctx, op) -> PoolParams:
    x, y = ctx.input(0), ctx.output(0)
    o = op.options
    if o is None:
        raise UnsupportedError("missing Pool2DOptions")
    if len(x.shape) != 4:
        raise UnsupportedError(f"input rank {len(x.shape)}; need 4 (NHWC)")
    win = Window.make(o.padding, x.shape[1], x.shape[2], o.filter_height, o.filter_width, o.stride_h, o.stride_w)
    act = o.fused_activation_function
    if x.type == dtypes.FLOAT32:
        lo, hi = float_activation_range(act)
        return PoolParams("float", win, lo, hi, win.counts().astype(np.float32), np.float32)
    check_type(x, (dtypes.INT8, dtypes.INT16, dtypes.UINT8), "input")
    if y.type != x.type:
        raise UnsupportedError(f"output type {dtypes.name(y.type)} differs from input {dtypes.name(x.type)}")
    if scale_zp(x) != scale_zp(y):
        raise UnsupportedError("quantized pooling needs the same scale and zero point on input and output")
    lo, hi = quant_activation_range(act, y)
    return PoolParams("int", win, lo, hi, win.counts().astype(np.int64), x.dtype)
