"""DEPTHWISE_CONV_2D: float32, int8 (per-tensor / per-channel), int16x8, hybrid (int8 weights, float input)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import UnsupportedError
from . import Kernel, kernel
from ._common import (
    Requant,
    Window,
    apply_float_activation,
    channel_tile,
    check_type,
    epilogue,
    float_activation_range,
    known_finite,
    per_channel_requant,
    requantize_output,
    scales,
)
from ._hybrid import asymmetric_quantize_rows


@dataclass(frozen=True)
class DepthwiseParams(Requant):
    kind: str  # "float" | "int" | "int16"
    win: Window
    w: np.ndarray  # (KH, KW, C_out) in the accumulation dtype
    depth_multiplier: int
    bias: Any
    acc_dtype: Any = np.float32
    w_tiled: Any = None  # w tiled to (KH, KW, OW*C_out): win.tiled_taps(w), or win.masked_tiled_taps(w) with rows
    rows: bool = False  # float at stride 1 along W: win.row_taps (no padding along W)
    bias_tile: Any = None  # float: channel_tile(bias) for the epilogue


def _repeat(xp, depth_multiplier: int):
    """Input channel ic feeds output channels ic*m .. ic*m + m-1: repeat channels (each phase array)."""
    if depth_multiplier == 1:
        return xp
    if isinstance(xp, tuple):
        return tuple(np.repeat(a, depth_multiplier, axis=3) for a in xp)
    return np.repeat(xp, depth_multiplier, axis=3)


@kernel("DEPTHWISE_CONV_2D")
class DepthwiseConv2D(Kernel):
    """reference_ops::DepthwiseConv (float) and reference_integer_ops::DepthwiseConvPerChannel (int8,
    int16x8 with int64 bias). Output channel ``ic * depth_multiplier + m`` reads input channel ``ic``.

    Requantization: MultiplyByQuantizedMultiplier, double rounding; per-channel multipliers from
    double(input_scale) * double(filter_scale[c]) / double(output_scale). Accumulation is exact in
    int32 (int8) or int64 (int16); taps are summed one at a time over the whole batch.
    """

    def prepare(self, ctx, op):
        x, w, b = ctx.input(0), ctx.input(1), ctx.input(2)
        o = op.options
        if o is None:
            raise UnsupportedError("missing DepthwiseConv2DOptions")
        wv = ctx.require_const(1, "filter")
        if len(x.shape) != 4 or wv.ndim != 4 or wv.shape[0] != 1:
            raise UnsupportedError(f"input shape {list(x.shape)} / filter shape {list(wv.shape)}; "
                                   "need NHWC and (1, KH, KW, C_out)")
        _, kh, kw, cout = wv.shape
        cin = x.shape[3]
        if cout % cin:
            raise UnsupportedError(f"output channels {cout} not a multiple of input channels {cin}")
        mult = cout // cin
        win = Window.make(o.padding, x.shape[1], x.shape[2], kh, kw, o.stride_h, o.stride_w,
                          o.dilation_h_factor, o.dilation_w_factor)
        act = o.fused_activation_function
        bv = ctx.const(2) if b is not None else None
        wk = wv[0]  # (KH, KW, Cout)
        if x.type == dtypes.FLOAT32 and w.type == dtypes.FLOAT32:
            lo, hi = float_activation_range(act)
            bias = None if bv is None else bv.astype(np.float32)
            wf = wk.astype(np.float32)
            rows = win.sw == 1
            return DepthwiseParams("float", win, wf, mult, bias, act_min=lo, act_max=hi,
                                   bias_tile=channel_tile(bias, win),
                                   w_tiled=win.masked_tiled_taps(wf, win.row_group(cout)) if rows else win.tiled_taps(wf),
                                   rows=rows)
        if x.type == dtypes.FLOAT32 and w.type == dtypes.INT8:
            # hybrid: reference_integer_ops::DepthwiseConvHybridPerChannel (per-sample asymmetric input)
            lo, hi = float_activation_range(act)
            bias = None if bv is None else bv.astype(np.float32)
            ws = np.broadcast_to(scales(w), (cout,)).astype(np.float32)
            return DepthwiseParams("hybrid", win, wk.astype(np.float32), mult, bias, act_min=lo, act_max=hi,
                                   output_multiplier=ws,
                                   acc_dtype=np.float32)
        check_type(x, (dtypes.INT8, dtypes.INT16), "input")
        check_type(w, (dtypes.INT8,), "filter")
        rq = per_channel_requant(ctx, act, cout)
        bias = None if bv is None else bv.astype(np.int64)
        if x.type == dtypes.INT8:
            return DepthwiseParams("int", win, wk.astype(np.int32), mult, bias, np.int32, **rq)
        return DepthwiseParams("int16", win, wk.astype(np.int64), mult, bias, np.int64, **rq)

    def eval(self, p: DepthwiseParams, inputs):
        x = inputs[0]
        win = p.win
        if p.kind == "hybrid":
            return [self._hybrid(p, x)]
        if p.kind == "float" and p.rows and (known_finite(x) or win.row_edges_finite(x)):
            acc = win.row_taps(_repeat(x, p.depth_multiplier), p.w_tiled)  # (N, OH, OW, Cout) float32
            return [epilogue(acc, p.bias_tile, p.act_min, p.act_max)]
        if p.kind == "float":
            wt = None if p.rows else p.w_tiled  # the row layout's tiles are masked and span several rows
            acc = win.accumulate_taps(_repeat(win.tap_input(x, 0), p.depth_multiplier), p.w, wt)
            return [epilogue(acc, p.bias_tile, p.act_min, p.act_max)]  # acc (N, OH, OW, Cout) float32
        xp = win.tap_input(x, -p.input_offset, p.acc_dtype)  # new arrays: wider than x
        for a in xp if isinstance(xp, tuple) else (xp,):
            a += p.input_offset  # padded taps become (zero point + input_offset) == 0
        acc = win.accumulate_taps(_repeat(xp, p.depth_multiplier), p.w)  # (N, OH, OW, Cout)
        acc = acc.astype(np.int64)
        if p.bias is not None:
            acc += p.bias
        return [requantize_output(acc, p)]

    def _hybrid(self, p: DepthwiseParams, x: np.ndarray) -> np.ndarray:
        """acc = sum over in-bounds taps of w * (q - offset[b]) (exact in float32: 9 taps of 255 * 127);
        out = float(acc) * (per_channel_scale[c] * scaling_factor[b]) + bias, then the activation clamp."""
        n = x.shape[0]
        q, sf, off = asymmetric_quantize_rows(x.reshape(n, -1))
        centered = (q - off[:, None]).astype(np.float32).reshape(x.shape)  # out-of-range taps pad with 0
        xp = _repeat(p.win.tap_input(centered, 0), p.depth_multiplier)
        acc = p.win.accumulate_taps(xp, p.w)  # (N, OH, OW, Cout) exact integers in float32
        scale = np.multiply(p.output_multiplier[None, :], sf[:, None], dtype=np.float32)  # (N, Cout)
        y = np.multiply(acc, scale[:, None, None, :], dtype=np.float32)
        if p.bias is not None:
            y = np.add(y, p.bias, dtype=np.float32)
        return apply_float_activation(y, p.act_min, p.act_max)
