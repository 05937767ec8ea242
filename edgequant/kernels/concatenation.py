"""CONCATENATION: float32, int32/int64, int8/int16 (requantized when input scales differ)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import apply_float_activation, float_activation_range, scale_zp


@dataclass(frozen=True)
class ConcatParams:
    axis: int
    batchable: bool
    act: tuple = (-np.inf, np.inf)
    requant: Any = None  # per input: None (same params as output) or (in_scale, in_zp, out_scale, out_zp)
    out_dtype: Any = None


@kernel("CONCATENATION")
class Concatenation(Kernel):
    """reference_ops::Concatenation (same quantization everywhere, a copy) and
    reference_ops::ConcatenationWithScaling (int8/uint8 inputs whose scale or zero point differs
    from the output's: ``round(q_in * (s_in / s_out) + (zp_out - zp_in * s_in / s_out))`` in float32,
    clamped)."""

    def prepare(self, ctx, op):
        y = ctx.output(0)
        rank = len(y.shape or [])
        o = op.options
        axis = int(o.axis) if o is not None else 0
        if axis < 0:
            axis += rank
        if not 0 <= axis < max(rank, 1):
            raise UnsupportedError(f"axis {o.axis} out of range for rank {rank}")
        act = o.fused_activation_function if o is not None else 0
        lo_hi = float_activation_range(act) if y.type == dtypes.FLOAT32 else (-np.inf, np.inf)
        if y.type != dtypes.FLOAT32 and act:
            raise UnsupportedError("fused activation on an integer concatenation")
        batchable = axis != 0
        for i in range(ctx.n_inputs):
            t = ctx.input(i)
            if ctx.const(i) is not None and len(t.shape or []) and t.shape[0] != 1:
                batchable = False
        requant = None
        if y.type in (dtypes.INT8, dtypes.UINT8, dtypes.INT16):
            so, zo = scale_zp(y)
            rq = []
            for i in range(ctx.n_inputs):
                si, zi = scale_zp(ctx.input(i))
                rq.append(None if (si, zi) == (so, zo) else (np.float32(si), zi, np.float32(so), zo))
            if any(r is not None for r in rq):
                if y.type != dtypes.UINT8:
                    # LiteRT and tflite-micro reject this in Prepare (concatenation.cc); so do we
                    raise UnsupportedError(f"{dtypes.name(y.type)} inputs must share the output's scale and zero point")
                requant = tuple(rq)
                batchable = batchable and all(ctx.const(i) is None for i in range(ctx.n_inputs))
        return ConcatParams(axis, batchable, lo_hi, requant, y.dtype)

    def eval(self, p: ConcatParams, inputs):
        xs = inputs
        if p.requant is not None:
            from .. import qmath
            lo, hi = np.iinfo(p.out_dtype).min, np.iinfo(p.out_dtype).max
            xs = []
            for x, r in zip(inputs, p.requant):
                if r is None:
                    xs.append(x)
                    continue
                si, zi, so, zo = r
                scale = np.float32(si / so)
                bias = np.float32(np.float32(zo) - np.float32(zi) * scale)
                v = qmath.round_half_away(x.astype(np.float32) * scale + bias)
                xs.append(np.clip(v, lo, hi).astype(p.out_dtype))
        y = np.concatenate(xs, axis=p.axis)
        if y.dtype == np.float32:
            y = apply_float_activation(y, *p.act)
        return [y]
